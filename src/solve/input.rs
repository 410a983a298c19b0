//! Root requirements from a manifest: the Debian dependencies of each image,
//! grouped into apt transactions in file order, with their origins.

use crate::manifest::{Constraint, Ecosystem, Manifest};
use crate::universe::{
    CmpOp, RelationKind, Requirement, Universe, UniverseError, VersionConstraint, debian,
};
use std::collections::BTreeMap;

/// Orders transactions of one image: declaring file, transaction index within it.
type TxKey = (String, u32, u32);

/// The apt transactions of one image, in order, each a list of requirements.
pub type Transactions = Vec<Vec<Requirement>>;

/// Groups the manifest's `deb` dependencies by image and transaction and turns
/// them into requirements of `domain` (packages that do not exist stay as
/// requirements nothing satisfies, so the search explains them).
pub fn debian_transactions(
    u: &mut Universe,
    m: &Manifest,
    domain: &str,
) -> Result<BTreeMap<String, Transactions>, UniverseError> {
    let mut grouped: BTreeMap<String, BTreeMap<TxKey, Vec<Requirement>>> = BTreeMap::new();
    for d in &m.dependencies {
        if d.ecosystem != Ecosystem::Deb || d.attrs.contains_key("removed") {
            continue;
        }
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let name = d.name.split(':').next().unwrap_or(&d.name);
        debian::check_name(name).map_err(|message| UniverseError::Parse {
            file: d.origin.file.clone(),
            line: d.origin.line as usize,
            message,
        })?;
        let pid = u.intern(crate::universe::PackageKey::new(
            Ecosystem::Deb,
            domain,
            name,
        ));
        let constraint = match &d.constraint {
            Constraint::Exact(v) => VersionConstraint::Cmp(CmpOp::Eq, v.clone()),
            Constraint::Range(r) => parse_range(r),
            Constraint::None | Constraint::Ref(_) => VersionConstraint::Any,
        };
        let req = Requirement::single(pid, constraint)
            .with_kind(RelationKind::Root)
            .with_origin(d.origin.to_string());
        let tx = d.context.transaction.unwrap_or(0);
        grouped
            .entry(image)
            .or_default()
            .entry((d.origin.file.clone(), tx, 0))
            .or_default()
            .push(req);
    }
    Ok(grouped
        .into_iter()
        .map(|(img, txs)| (img, txs.into_values().collect()))
        .collect())
}

/// A Debian range such as `>= 1.2` or `(<< 3)`; several separated by commas are all required.
fn parse_range(r: &str) -> VersionConstraint {
    let mut all = Vec::new();
    for part in r.split(',') {
        let p = part
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        let end = p
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(p.len());
        let op = match &p[..end] {
            "<<" | "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            "=" | "==" => CmpOp::Eq,
            ">=" => CmpOp::Ge,
            ">>" | ">" => CmpOp::Gt,
            _ => continue,
        };
        all.push(VersionConstraint::Cmp(op, p[end..].trim().to_string()));
    }
    match all.len() {
        0 => VersionConstraint::Any,
        1 => all.remove(0),
        _ => VersionConstraint::All(all),
    }
}
