//! Property tests: the domain is total on whatever a peer sends. Date arithmetic never loops or
//! panics, any received round, person, target or rectification item is either refused by
//! `check_received` or, once held, leaves every read of the state (oversight, overdue
//! reports, bookings, ages) answering without a panic.

use chrono::{Datelike, NaiveDate, Utc};
use proptest::prelude::*;
use xuncha_domain::common::{Actor, DateWindow, add_months};
use xuncha_domain::ids::*;
use xuncha_domain::model::*;
use xuncha_domain::validate::{YEARS, check_received};
use xuncha_domain::{Meta, NodeId, Record, State};

fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        // Anywhere chrono can go, edges included.
        (NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce())
            .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap()),
        // Near the office's dates, where most checks decide.
        (-400i32..400).prop_map(|d| NaiveDate::from_ymd_opt(2026, 6, 1).unwrap() + chrono::Duration::days(d as i64)),
    ]
}

fn meta(owner: &NodeId) -> Meta {
    Meta { owner: owner.clone(), version: 1, updated_at: Utc::now() }
}

fn id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

prop_compose! {
    fn any_round(owner: NodeId)(
        months in any::<u32>(),
        number in any::<u32>(),
        (a, b, c) in (any_date(), any_date(), any_date()),
        (min, max) in (any::<u32>(), any::<u32>()),
    ) -> Round {
        Round {
            id: RoundId(id()),
            meta: meta(&owner),
            term: TermId(id()),
            number,
            name: "第三轮".into(),
            dates: RoundDates { enter_on: a, leave_on: b, feedback_on: c },
            report_due_months: months,
            group_size: GroupSize { min, max },
            status: RoundStatus::FeedbackGiven,
            amendments: vec![],
        }
    }
}

fn person(owner: &NodeId, birth_year: i32, unavailable: DateWindow) -> Person {
    Person {
        id: PersonId(id()),
        meta: meta(owner),
        name: "张三".into(),
        gender: None,
        birth_year,
        rank: Rank::Staff,
        source: PoolSource::InspectionOffice,
        work_unit: "县财政局".into(),
        home_unit: None,
        past_posts: vec![],
        declared_conflicts: Default::default(),
        specialties: Default::default(),
        leader_qualified: true,
        active: true,
        unavailable: vec![unavailable],
        from_county: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn adding_months_is_total(day in any_date(), months in any::<u32>()) {
        if let Some(later) = add_months(day, months) {
            prop_assert!(later >= day);
        }
    }

    #[test]
    fn whatever_a_county_sends_is_refused_or_safe_to_hold(
        round in any_round(NodeId::county("c01").unwrap()),
        feedback in proptest::option::of(any_date()),
        deadline in any_date(),
        birth_year in any::<i32>(),
        (from, to) in (any_date(), any_date()),
        today in any_date(),
    ) {
        let county = NodeId::county("c01").unwrap();
        let city = NodeId::city();
        let target = Target {
            id: TargetId(id()),
            meta: meta(&county),
            round: round.id,
            group: GroupId(id()),
            unit: UnitId(id()),
            kind: TargetKind::Regular,
            scope: None,
            assignment: None,
            inherited_findings: vec![],
            feedback_on: feedback,
            report_submitted_on: None,
            lead_count: 0,
        };
        let item = RectificationItem {
            id: RectificationId(id()),
            meta: meta(&county),
            reference: Default::default(),
            finding: FindingId(id()),
            target: target.id,
            round: round.id,
            unit: target.unit,
            kind: RectificationKind::Measure,
            measures: vec!["建立制度".into()],
            responsible_unit: "县财政局".into(),
            responsible_person: None,
            deadline,
            status: RectificationStatus::Open,
            progress: vec![],
            evidence: None,
            sign_off: None,
        };
        let p = person(&county, birth_year, DateWindow { from, to });
        let mut state = State::default();
        let none = |_: xuncha_domain::Kind, _: &str| false;
        for r in [Record::Round(round.clone()), Record::Target(target), Record::Rectification(item), Record::Person(p)] {
            let verdict = check_received(&state, &county, &city, &r, &none);
            if let Record::Round(r) = &r
                && !(1..=12).contains(&r.report_due_months)
            {
                prop_assert!(verdict.is_err(), "a report due in {} months is refused", r.report_due_months);
            }
            if let Record::Person(p) = &r
                && !YEARS.contains(&p.birth_year)
            {
                prop_assert!(verdict.is_err());
            }
            if verdict.is_ok() {
                state.put(r);
            }
        }
        // Every read of what is held answers.
        let _ = xuncha_domain::oversight::oversight(&state, today);
        let _ = xuncha_domain::oversight::overdue_reports(&state, today);
        let _ = xuncha_domain::oversight::overdue_items(&state, today);
        let _ = xuncha_domain::staffing::bookings(&state);
        let _ = xuncha_domain::staffing::booking_conflicts(&state);
        for p in state.persons.values() {
            let _ = xuncha_domain::staffing::age_on(p, today);
        }
    }
}

/// Every field within its bound can still add up to a record too big for a sync batch: the
/// stored form is bounded on its own.
#[test]
fn a_record_whose_stored_form_is_too_big_is_refused() {
    let county = NodeId::county("anping").unwrap();
    let mut round =
        proptest::strategy::ValueTree::current(&any_round(county).new_tree(&mut Default::default()).unwrap());
    round.report_due_months = 2;
    round.group_size = GroupSize { min: 1, max: 5 };
    round.dates = RoundDates {
        enter_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        leave_on: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
        feedback_on: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
    };
    round.number = 3;
    assert_eq!(xuncha_domain::validate::check_record(&Record::Round(round.clone())), Ok(()));
    let amendment = Amendment {
        at: Utc::now(),
        actor: Actor { account: None, username: String::new(), display_name: "李四".into(), role: None },
        reason: "延".repeat(8000),
        change: "期".repeat(8000),
    };
    round.amendments = vec![amendment; 100];
    let refused = xuncha_domain::validate::check_record(&Record::Round(round)).unwrap_err();
    assert_eq!(refused.field, "record", "{refused:?}");
}
