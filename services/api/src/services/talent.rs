use tonic::{Request, Response, Status};
use xuncha_domain::roster::{ImportPersons, parse_roster};
use xuncha_domain::staffing::{booking_conflicts, suggest};
use xuncha_domain::{Command, DomainError, Permission, Record};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::talent_pool_service_server::TalentPoolService;

use super::units::owner_filter;
use super::{bad, caller_of, ok, principal};
use crate::backend::Api;
use crate::conv::{self, ToPb};
use crate::error::ApiError;
use crate::tabular;

pub struct TalentApi(pub Api);

#[tonic::async_trait]
impl TalentPoolService for TalentApi {
    async fn add_person(&self, r: Request<pb::AddPersonRequest>) -> Result<Response<pb::Person>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let person = self
            .0
            .write(
                &who,
                || {
                    Ok(Command::AddPerson(xuncha_domain::roster::AddPerson {
                        person: conv::person::draft("person", &r.person)?,
                    }))
                },
                Record::as_person,
            )
            .await?;
        ok(person.to_pb())
    }

    async fn update_person(&self, r: Request<pb::UpdatePersonRequest>) -> Result<Response<pb::Person>, Status> {
        let who = principal(&r)?;
        let r = r.into_inner();
        let person = self
            .0
            .write(
                &who,
                || {
                    Ok(Command::UpdatePerson(xuncha_domain::roster::UpdatePerson {
                        id: conv::id("id", &r.id)?,
                        person: conv::person::draft("person", &r.person)?,
                    }))
                },
                Record::as_person,
            )
            .await?;
        ok(person.to_pb())
    }

    async fn list_persons(
        &self,
        r: Request<pb::ListPersonsRequest>,
    ) -> Result<Response<pb::ListPersonsResponse>, Status> {
        let who = principal(&r)?;
        let q = r.get_ref().clone();
        let owner = owner_filter("owner", &q.owner).map_err(bad)?;
        let mut persons = self
            .0
            .read(&r, |s| {
                s.persons
                    .values()
                    .filter(|p| owner.as_ref().is_none_or(|o| &p.meta.owner == o))
                    .filter(|p| !q.leaders_only || p.leader_qualified)
                    .filter(|p| q.include_inactive || p.active)
                    .filter(|p| who.may(s, Permission::PoolRead, *p))
                    .map(ToPb::to_pb)
                    .collect::<Vec<_>>()
            })
            .await?;
        persons.sort_by(|a, b| a.fields.as_ref().map(|f| &f.name).cmp(&b.fields.as_ref().map(|f| &f.name)));
        ok(pb::ListPersonsResponse { persons })
    }

    async fn import_persons(
        &self,
        r: Request<pb::ImportPersonsRequest>,
    ) -> Result<Response<pb::ImportPersonsResponse>, Status> {
        let consistency_probe = Request::new(());
        let who = principal(&r)?;
        let r = r.into_inner();
        // Signed in before the file is read.
        caller_of(&who)?;
        let table = match pb::TableFormat::try_from(r.format) {
            Ok(pb::TableFormat::Csv) => tabular::read_csv(&r.content),
            Ok(pb::TableFormat::Xlsx) => tabular::read_xlsx(&r.content),
            _ => return Err(bad(DomainError::invalid("format", "must be CSV or XLSX"))),
        }
        .map_err(|e| bad(DomainError::invalid("content", e)))?;
        let me_is_city = self.0.engine().node().is_city();
        let today = self.0.today();
        let parsed =
            self.0.read(&consistency_probe, |s| parse_roster(s, me_is_city, today, &table.header, &table.rows)).await?;
        let drafts = match parsed {
            Ok(d) => d,
            Err(errors) => {
                if r.dry_run {
                    let errors = errors
                        .into_iter()
                        .map(|e| pb::RowError { row: e.row as u32, column: e.column, reason: e.reason })
                        .collect();
                    return ok(pb::ImportPersonsResponse { imported: 0, errors, ids: vec![] });
                }
                let violations =
                    errors.into_iter().map(|e| (format!("row {} column {}", e.row, e.column), e.reason)).collect();
                return Err(ApiError::Violations { field: "content".into(), violations }.into());
            }
        };
        if r.dry_run {
            return ok(pb::ImportPersonsResponse { imported: drafts.len() as u32, errors: vec![], ids: vec![] });
        }
        let outcome = self.0.execute_for(&who, Command::ImportPersons(ImportPersons { persons: drafts })).await?;
        let ids: Vec<String> = outcome.records.iter().filter_map(Record::as_person).map(|p| p.id.to_string()).collect();
        ok(pb::ImportPersonsResponse { imported: ids.len() as u32, errors: vec![], ids })
    }

    async fn suggest_members(
        &self,
        r: Request<pb::SuggestMembersRequest>,
    ) -> Result<Response<pb::SuggestMembersResponse>, Status> {
        let req = conv::person::suggest_request(r.get_ref()).map_err(bad)?;
        let me = self.0.engine().node().clone();
        let suggestion = self
            .0
            .read(&r, |s| suggest(s, &me, &req))
            .await?
            .map_err(|e| bad(DomainError::precondition("round", e)))?;
        ok(suggestion.to_pb())
    }

    async fn list_conflicts(
        &self,
        r: Request<pb::ListConflictsRequest>,
    ) -> Result<Response<pb::ListConflictsResponse>, Status> {
        let conflicts = self.0.read(&r, |s| booking_conflicts(s).iter().map(ToPb::to_pb).collect()).await?;
        ok(pb::ListConflictsResponse { conflicts })
    }
}
