//! Signing in and out, and accounts (账号) and their roles.

use std::io::BufRead;

use clap::{Args, Subcommand};
use xuncha_proto::v1 as pb;
use xuncha_proto::v1::account_service_client::AccountServiceClient;
use xuncha_proto::v1::auth_client::AuthClient;
use xuncha_wire::labels::{self, label};

use crate::Ctx;
use crate::output::{print, table};
use crate::refs::NodeLabels;
use crate::tokens::Saved;

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// Login name: `name` at its own node, `name@county` for a county's account at the city.
    pub username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug, Clone)]
pub struct PasswdArgs {
    /// Read the old and the new password from the first two lines of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Subcommand, Debug, Clone)]
pub enum AccountCmd {
    /// Makes the first administrator (巡察办主任 and 运维) of a node that has no account; needs
    /// the operator certificate. Reads the password like `login`.
    Bootstrap {
        username: String,
        /// The person's name, e.g. 赵建国.
        #[arg(long)]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Adds an account to this node.
    Add {
        username: String,
        /// The person's name.
        #[arg(long)]
        name: String,
        /// Roles as ROLE@SCOPE: office_clerk@county:anping, group_leader@group:<id>,
        /// unit_liaison@unit:<id>, auditor@city (role codes or Chinese names; repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Read the initial password from standard input (otherwise prompted).
        #[arg(long)]
        password_stdin: bool,
    },
    /// The accounts this node holds (a county's reach the city read-only).
    List {
        /// Only this organisation: city or county/<code>.
        #[arg(long, default_value = "")]
        organisation: String,
    },
    /// Disables an account: it signs in no more and its sessions end at once.
    Disable {
        account: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Enables a disabled account.
    Enable { account: String },
    /// Sets a new password for someone; they must change it at next sign-in.
    ResetPassword {
        account: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Grants a role (ROLE@SCOPE, as for `add`).
    Grant { account: String, role: String },
    /// Revokes a role.
    Revoke { account: String, role: String },
    /// The built-in roles and their permissions.
    Roles,
}

fn read_password(prompt: &str, stdin: bool) -> anyhow::Result<String> {
    if stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let p = line.trim_end_matches(['\r', '\n']).to_string();
        anyhow::ensure!(!p.is_empty(), "no password on standard input");
        Ok(p)
    } else {
        Ok(rpassword::prompt_password(prompt)?)
    }
}

/// `ROLE@SCOPE` → a grant: scope `city`, `county:<code>`, `round:<id>`, `group:<id>`, `unit:<id>`.
pub fn parse_grant(text: &str) -> anyhow::Result<pb::RoleGrant> {
    let (role, scope) = text
        .split_once('@')
        .ok_or_else(|| anyhow::anyhow!("--role: '{text}' is not ROLE@SCOPE (e.g. office_clerk@city)"))?;
    let (kind, id) = scope.split_once(':').unwrap_or((scope, ""));
    let kind = labels::parse::<pb::ScopeKind>(kind).ok_or_else(|| {
        anyhow::anyhow!("--role: scope '{kind}' is not one of {}", labels::choices::<pb::ScopeKind>())
    })?;
    Ok(pb::RoleGrant {
        role: role.to_string(),
        scope: Some(pb::Scope { kind: kind as i32, id: id.to_string(), label: String::new() }),
        role_label: String::new(),
    })
}

fn roles_text(roles: &[pb::RoleGrant]) -> String {
    roles
        .iter()
        .map(|g| format!("{}({})", g.role_label, g.scope.as_ref().map(|s| s.label.as_str()).unwrap_or("")))
        .collect::<Vec<_>>()
        .join("、")
}

fn accounts_table(accounts: &[pb::Account], nodes: &NodeLabels) -> String {
    let mut t = table(&["登录名", "姓名", "所属", "状态", "角色", "在线会话"]);
    for a in accounts {
        t.add_row(vec![
            a.username.clone(),
            a.display_name.clone(),
            nodes.label(a.meta.as_ref().map(|m| m.owner.as_str()).unwrap_or("")),
            format!(
                "{}{}",
                label::<pb::AccountStatus>(a.status),
                if a.must_change_password { "(须改密码)" } else { "" }
            ),
            roles_text(&a.roles),
            a.open_sessions.to_string(),
        ]);
    }
    t.to_string()
}

fn who_table(w: &pb::WhoAmIResponse, nodes: &NodeLabels) -> String {
    let mut t = table(&["项目", "内容"]);
    t.add_row(vec!["登录名".to_string(), w.username.clone()]);
    t.add_row(vec!["姓名".to_string(), w.display_name.clone()]);
    t.add_row(vec!["所属".to_string(), nodes.label(&w.organisation)]);
    t.add_row(vec!["角色".to_string(), roles_text(&w.roles)]);
    if let Some(e) = &w.expires_at {
        t.add_row(vec!["登录有效至".to_string(), crate::commands::oversight::ts(&Some(*e))]);
    }
    if w.must_change_password {
        t.add_row(vec!["提示".to_string(), "密码已被重置,请先执行 xuncha passwd".to_string()]);
    }
    t.to_string()
}

pub async fn login(ctx: &Ctx, a: LoginArgs) -> anyhow::Result<()> {
    let password = read_password(&format!("{} 的密码: ", a.username), a.password_stdin)?;
    let r = AuthClient::new(ctx.channel.clone())
        .login(pb::LoginRequest { username: a.username.clone(), password })
        .await?
        .into_inner();
    let who = r.who.clone().unwrap_or_default();
    let expires_at = r.expires_at.map(|t| crate::commands::oversight::ts(&Some(t))).unwrap_or_default();
    ctx.tokens.put(
        &ctx.addr,
        Saved {
            token: r.token.clone(),
            username: who.username.clone(),
            display_name: who.display_name.clone(),
            expires_at,
        },
    )?;
    match ctx.format {
        crate::output::Format::Json => println!("{}", serde_json::to_string_pretty(&who)?),
        crate::output::Format::Table => {
            println!("已登录:{}({}),{}", who.display_name, who.username, roles_text(&who.roles));
            if who.must_change_password {
                println!("密码已被重置,请先执行 xuncha passwd 修改密码。");
            }
        }
    }
    Ok(())
}

pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    let result = AuthClient::new(ctx.channel.clone()).logout(pb::LogoutRequest {}).await;
    ctx.tokens.remove(&ctx.addr)?;
    match result {
        Ok(_) => println!("已退出登录"),
        Err(s) if s.code() == tonic::Code::Unauthenticated => println!("未登录(本地令牌已清除)"),
        Err(s) => return Err(s.into()),
    }
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let w = AuthClient::new(ctx.channel.clone()).who_am_i(pb::WhoAmIRequest {}).await?.into_inner();
    let nodes = NodeLabels::of(&ctx.channel).await?;
    print(ctx.format, &w, |w| who_table(w, &nodes))
}

pub async fn passwd(ctx: &Ctx, a: PasswdArgs) -> anyhow::Result<()> {
    let old_password = read_password("原密码: ", a.password_stdin)?;
    let new_password = read_password("新密码(10至128个字符): ", a.password_stdin)?;
    if !a.password_stdin {
        let again = read_password("再次输入新密码: ", false)?;
        anyhow::ensure!(again == new_password, "两次输入的新密码不一致");
    }
    AuthClient::new(ctx.channel.clone())
        .change_password(pb::ChangePasswordRequest { old_password, new_password })
        .await?;
    println!("密码已修改;其他登录已失效");
    Ok(())
}

pub async fn account(ctx: &Ctx, c: AccountCmd) -> anyhow::Result<()> {
    let mut client = AccountServiceClient::new(ctx.channel.clone());
    let nodes = NodeLabels::of(&ctx.channel).await?;
    let one = |a: &pb::Account| accounts_table(std::slice::from_ref(a), &nodes);
    let changed = match c {
        AccountCmd::Bootstrap { username, name, password_stdin } => {
            let password = read_password(&format!("{username} 的密码: "), password_stdin)?;
            client.bootstrap(pb::BootstrapAccountRequest { username, display_name: name, password }).await?
        }
        AccountCmd::Add { username, name, roles, password_stdin } => {
            let roles = roles.iter().map(|r| parse_grant(r)).collect::<anyhow::Result<Vec<_>>>()?;
            let password = read_password(&format!("{username} 的初始密码: "), password_stdin)?;
            client.add_account(pb::AddAccountRequest { username, display_name: name, password, roles }).await?
        }
        AccountCmd::List { organisation } => {
            let r = client.list_accounts(pb::ListAccountsRequest { organisation }).await?.into_inner();
            return print(ctx.format, &r, |r| accounts_table(&r.accounts, &nodes));
        }
        AccountCmd::Disable { account, reason } => {
            client.set_status(pb::SetAccountStatusRequest { account, active: false, reason }).await?
        }
        AccountCmd::Enable { account } => {
            client.set_status(pb::SetAccountStatusRequest { account, active: true, reason: String::new() }).await?
        }
        AccountCmd::ResetPassword { account, password_stdin } => {
            let new_password = read_password(&format!("{account} 的新密码: "), password_stdin)?;
            client.reset_password(pb::ResetPasswordRequest { account, new_password }).await?
        }
        AccountCmd::Grant { account, role } => {
            client.grant(pb::ChangeGrantRequest { account, grant: Some(parse_grant(&role)?) }).await?
        }
        AccountCmd::Revoke { account, role } => {
            client.revoke(pb::ChangeGrantRequest { account, grant: Some(parse_grant(&role)?) }).await?
        }
        AccountCmd::Roles => {
            let r = client.list_roles(pb::ListRolesRequest {}).await?.into_inner();
            return print(ctx.format, &r, |r| {
                let mut t = table(&["代码", "角色", "职责", "授权范围"]);
                for d in &r.roles {
                    let scopes: Vec<&str> = d.scopes.iter().map(|k| label::<pb::ScopeKind>(*k)).collect();
                    t.add_row(vec![d.code.clone(), d.name.clone(), d.summary.clone(), scopes.join("、")]);
                }
                t.to_string()
            });
        }
    };
    let a = changed.into_inner();
    print(ctx.format, &a, one)
}
