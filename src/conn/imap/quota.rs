//! The QUOTA extension (RFC 9208) with the STORAGE resource: each user has one quota root, the
//! empty name, covering all their mailboxes; it exists only while the user has a quota (a user
//! without one has no root, RFC 9208 §4.3.2). Quotas are set by the administrator
//! (`mailnook quota set`, the admin web page), so SETQUOTA is refused. Enforcement is the
//! store's (`store::quota`): APPEND and COPY that would exceed the quota end in
//! `NO [OVERQUOTA]` (RFC 9208 §4.3, RFC 5530 §3).

use super::Conn;
use super::mailbox::{mailbox_name, wire_name};
use crate::proto::imap::response::{self, QUOTA_ROOT, Status};
use crate::store::{self, Quota};
use imap_codec::imap_types::mailbox::Mailbox;

/// The logged-in user's quota, if they have one.
fn limited(conn: &Conn) -> store::Result<Option<Quota>> {
    let Some(p) = conn.user.as_ref() else {
        return Ok(None);
    };
    Ok(conn.ctx.store.quota(p.user)?.filter(|q| q.limit != 0))
}

/// GETQUOTAROOT (RFC 9208 §4.3): the mailbox's roots and, for each, its usage and limit.
pub(super) fn get_quota_root(
    conn: &mut Conn,
    tag: &str,
    mailbox: &Mailbox<'_>,
) -> store::Result<()> {
    let found = match (mailbox_name(conn, mailbox), conn.user.as_ref()) {
        (Some(name), Some(p)) => conn.ctx.store.mailbox(p.user, &name)?.map(|_| name),
        _ => None,
    };
    let Some(name) = found else {
        conn.session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such mailbox");
        return Ok(());
    };
    let quota = limited(conn)?;
    let roots: &[&[u8]] = if quota.is_some() { &[QUOTA_ROOT] } else { &[] };
    let mut out = Vec::new();
    response::quota_root(&mut out, wire_name(conn, &name).as_bytes(), roots);
    if let Some(q) = quota {
        response::quota_storage(&mut out, QUOTA_ROOT, q.used, q.limit);
    }
    conn.session.untagged(&out);
    conn.session
        .tagged(tag, Status::Ok, None, "GETQUOTAROOT completed");
    Ok(())
}

/// GETQUOTA (RFC 9208 §4.2): usage and limit of the one root, the empty name.
pub(super) fn get_quota(conn: &mut Conn, tag: &str, root: &[u8]) -> store::Result<()> {
    match limited(conn)? {
        Some(q) if root == QUOTA_ROOT => {
            let mut out = Vec::new();
            response::quota_storage(&mut out, QUOTA_ROOT, q.used, q.limit);
            conn.session.untagged(&out);
            conn.session
                .tagged(tag, Status::Ok, None, "GETQUOTA completed");
        }
        _ => conn
            .session
            .tagged(tag, Status::No, Some("NONEXISTENT"), "No such quota root"),
    }
    Ok(())
}

/// SETQUOTA (RFC 9208 §4.1): refused; the administrator sets quotas.
pub(super) fn set_quota(conn: &mut Conn, tag: &str) {
    conn.session.tagged(
        tag,
        Status::No,
        Some("NOPERM"),
        "Quotas are set by the administrator",
    );
}
