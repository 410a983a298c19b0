//! Debian `Packages` indices into the universe, with every relation field parsed.
//!
//! The stanza and relation parsers are written by hand rather than with
//! `debian-control`: its lossless parser builds a syntax tree per stanza and
//! its lossy relation parser allocates per token, which made loading the
//! 58,657-stanza bullseye index several times slower than `apt-cache
//! gencaches` (see BENCHMARKS.md, `load` bench). The hand parser accepts the
//! same syntax (Debian Policy 7.1, with architecture lists and build profiles
//! skipped as apt does for binary indices) and reports errors with file and line.

use super::{
    Alternative, ArchQualifier, CandidateMeta, CmpOp, MultiArch, PackageId, Provide, RelationKind,
    Requirement, Scope, Universe, UniverseError, VersionConstraint,
    version::{VersionError, deb_validate},
};
use crate::manifest::Ecosystem;
use std::io::Read;

/// Loads every stanza of a `Packages` index (uncompressed bytes) into `u`
/// under `domain` (e.g. `bullseye/amd64`; the part after `/` is the native
/// architecture, and stanzas of other architectures except `all` are skipped).
/// Returns the number of candidates added. Errors name `file_label` and the line.
pub fn load_packages(
    u: &mut Universe,
    bytes: &[u8],
    file_label: &str,
    domain: &str,
) -> Result<usize, UniverseError> {
    // Debian stanzas average about 800 bytes; names (with virtual ones) outnumber stanzas a little.
    let mut loader = Loader::new(u, file_label, domain, bytes.len());
    parse_chunk(&mut loader, bytes, 0)?;
    Ok(loader.added)
}

/// Parses stanza-aligned bytes whose first line is line `first_line + 1` of
/// the file; returns the number of lines consumed.
fn parse_chunk(
    loader: &mut Loader,
    bytes: &[u8],
    first_line: usize,
) -> Result<usize, UniverseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = first_line
            + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&c| c == b'\n')
                .count()
            + 1;
        UniverseError::Parse {
            file: loader.file.to_string(),
            line,
            message: "not valid UTF-8".into(),
        }
    })?;
    let mut st = Stanza::default();
    let mut line_no = first_line;
    // A UTF-8 byte order mark would otherwise become part of the first field's name.
    let mut rest = if first_line == 0 {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    } else {
        text
    };
    let mut last_field: Option<usize> = None;
    while !rest.is_empty() {
        line_no += 1;
        let (line, next) = match rest.find('\n') {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if st.start_line != 0 {
                loader.finish(&mut st)?;
            }
            last_field = None;
            continue;
        }
        let first = line.as_bytes()[0];
        if first == b' ' || first == b'\t' {
            match last_field {
                Some(idx) => {
                    // Continuation: extend the relation field it belongs to (descriptions are skipped).
                    if idx != usize::MAX {
                        let f = &mut st.fields[idx];
                        let mut s = std::mem::take(&mut f.1).into_owned();
                        s.push(' ');
                        s.push_str(line.trim());
                        f.1 = std::borrow::Cow::Owned(s);
                    }
                }
                None => {
                    return Err(UniverseError::Parse {
                        file: loader.file.to_string(),
                        line: line_no,
                        message: "continuation line outside a field".into(),
                    });
                }
            }
            continue;
        }
        if first == b'#' {
            continue;
        }
        let Some(colon) = line.find(':') else {
            return Err(UniverseError::Parse {
                file: loader.file.to_string(),
                line: line_no,
                message: format!("expected `Field: value`, found `{}`", truncate(line)),
            });
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim();
        if st.start_line == 0 {
            st.start_line = line_no;
        }
        match field_index(name) {
            Some(idx) => {
                // A field appears at most once per stanza (Policy 5.1); which of two
                // values was meant cannot be known, so a repeated one is refused.
                let first = st.fields[idx].0;
                if first != 0 {
                    return Err(UniverseError::Parse {
                        file: loader.file.to_string(),
                        line: line_no,
                        message: format!(
                            "field `{}` repeated in the stanza (first at line {first})",
                            truncate(name)
                        ),
                    });
                }
                st.fields[idx] = (line_no, std::borrow::Cow::Borrowed(value));
                last_field = Some(idx);
            }
            None => last_field = Some(usize::MAX),
        }
    }
    if st.start_line != 0 {
        loader.finish(&mut st)?;
    }
    Ok(line_no)
}

/// Loads a `Packages.xz` index. Decompression runs on its own thread and
/// hands stanza-aligned chunks to the parser as they come, so loading costs
/// little more than decompressing. Errors name `file_label` (and the line).
pub fn load_packages_xz(
    u: &mut Universe,
    xz_bytes: &[u8],
    file_label: &str,
    domain: &str,
) -> Result<usize, UniverseError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, std::io::Error>>(8);
    let mut loader = Loader::new(u, file_label, domain, xz_bytes.len() * 6);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut dec = xz2::read::XzDecoder::new(xz_bytes);
            let mut carry: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match dec.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let from = carry.len().saturating_sub(1);
                        carry.extend_from_slice(&buf[..n]);
                        if let Some(p) = carry[from..].windows(2).rposition(|w| w == b"\n\n") {
                            let cut = from + p + 2;
                            let rest = carry.split_off(cut);
                            if tx.send(Ok(std::mem::replace(&mut carry, rest))).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            if !carry.is_empty() {
                let _ = tx.send(Ok(carry));
            }
        });
        let mut line = 0;
        for chunk in rx {
            let chunk = chunk.map_err(|e| UniverseError::Decompress {
                file: file_label.to_string(),
                message: e.to_string(),
            })?;
            line = parse_chunk(&mut loader, &chunk, line)?;
        }
        Ok(loader.added)
    })
}

/// Decompresses an `.xz` file into memory.
pub fn decompress_xz(xz_bytes: &[u8], file_label: &str) -> Result<Vec<u8>, UniverseError> {
    let mut out = Vec::with_capacity(xz_bytes.len() * 6);
    xz2::read::XzDecoder::new(xz_bytes)
        .read_to_end(&mut out)
        .map_err(|e| UniverseError::Decompress {
            file: file_label.to_string(),
            message: e.to_string(),
        })?;
    Ok(out)
}

/// Loads an index given its bytes, decompressing when they start with the xz
/// or gzip magic number.
pub fn load_packages_auto(
    u: &mut Universe,
    bytes: &[u8],
    file_label: &str,
    domain: &str,
) -> Result<usize, UniverseError> {
    if bytes.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0]) {
        load_packages_xz(u, bytes, file_label, domain)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| UniverseError::Decompress {
                file: file_label.to_string(),
                message: e.to_string(),
            })?;
        load_packages(u, &out, file_label, domain)
    } else {
        load_packages(u, bytes, file_label, domain)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

const F_PACKAGE: usize = 0;
const F_VERSION: usize = 1;
const F_ARCH: usize = 2;
const F_MA: usize = 3;
const F_ESSENTIAL: usize = 4;
const F_PRIORITY: usize = 5;
const F_SOURCE: usize = 6;
const F_DEPENDS: usize = 7;
const F_PREDEPENDS: usize = 8;
const F_CONFLICTS: usize = 9;
const F_BREAKS: usize = 10;
const F_PROVIDES: usize = 11;
const F_REPLACES: usize = 12;
const F_RECOMMENDS: usize = 13;
const F_FILENAME: usize = 14;
const F_SHA256: usize = 15;
const F_MD5: usize = 16;
const F_SUGGESTS: usize = 17;
const NFIELDS: usize = 18;

fn field_index(name: &str) -> Option<usize> {
    // Field names are case-insensitive (Policy 5.1); the common spelling is tried first.
    let idx = match name {
        "Package" => F_PACKAGE,
        "Version" => F_VERSION,
        "Architecture" => F_ARCH,
        "Multi-Arch" => F_MA,
        "Essential" => F_ESSENTIAL,
        "Priority" => F_PRIORITY,
        "Source" => F_SOURCE,
        "Depends" => F_DEPENDS,
        "Pre-Depends" => F_PREDEPENDS,
        "Conflicts" => F_CONFLICTS,
        "Breaks" => F_BREAKS,
        "Provides" => F_PROVIDES,
        "Replaces" => F_REPLACES,
        "Recommends" => F_RECOMMENDS,
        "Filename" => F_FILENAME,
        "SHA256" => F_SHA256,
        "MD5sum" => F_MD5,
        "Suggests" => F_SUGGESTS,
        _ => {
            const NAMES: [&str; NFIELDS] = [
                "package",
                "version",
                "architecture",
                "multi-arch",
                "essential",
                "priority",
                "source",
                "depends",
                "pre-depends",
                "conflicts",
                "breaks",
                "provides",
                "replaces",
                "recommends",
                "filename",
                "sha256",
                "md5sum",
                "suggests",
            ];
            return NAMES.iter().position(|n| n.eq_ignore_ascii_case(name));
        }
    };
    Some(idx)
}

#[derive(Default)]
struct Stanza<'a> {
    start_line: usize,
    fields: [(usize, std::borrow::Cow<'a, str>); NFIELDS],
}

struct Loader<'u, 'd> {
    u: &'u mut Universe,
    scope: Scope,
    domain: &'d str,
    file: &'d str,
    native: Option<&'d str>,
    added: usize,
}

impl<'u, 'd> Loader<'u, 'd> {
    fn new(u: &'u mut Universe, file: &'d str, domain: &'d str, bytes: usize) -> Loader<'u, 'd> {
        let native = domain.rsplit_once('/').map(|(_, a)| a);
        let scope = u.scope(Ecosystem::Deb, domain);
        // Debian stanzas average about 800 bytes; names (with virtual ones) outnumber stanzas.
        u.reserve(scope, bytes / 700, bytes / 500);
        Loader {
            u,
            scope,
            domain,
            file,
            native,
            added: 0,
        }
    }

    fn err(&self, line: usize, message: String) -> UniverseError {
        UniverseError::Parse {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    fn finish(&mut self, st: &mut Stanza) -> Result<(), UniverseError> {
        let start = st.start_line;
        let fields = std::mem::take(&mut st.fields);
        st.start_line = 0;
        let get = |i: usize| -> Option<(usize, &str)> {
            let (l, v) = &fields[i];
            if *l == 0 {
                None
            } else {
                Some((*l, v.as_ref()))
            }
        };
        let Some((pl, name)) = get(F_PACKAGE) else {
            return Err(self.err(start, "stanza without a Package field".into()));
        };
        check_name(name).map_err(|m| self.err(pl, m.to_string()))?;
        let Some((vl, version)) = get(F_VERSION) else {
            return Err(self.err(start, format!("package {name} has no Version field")));
        };
        deb_validate(version).map_err(|m| self.err(vl, m.to_string()))?;
        let arch = get(F_ARCH).map(|(_, a)| a);
        if let (Some(native), Some(a)) = (self.native, arch)
            && a != native
            && a != "all"
        {
            return Ok(());
        }
        let multi_arch = match get(F_MA) {
            None => MultiArch::No,
            Some((l, v)) => match v {
                "same" => MultiArch::Same,
                "foreign" => MultiArch::Foreign,
                "allowed" => MultiArch::Allowed,
                "no" => MultiArch::No,
                other => return Err(self.err(l, format!("unknown Multi-Arch value `{other}`"))),
            },
        };
        let mut depends = Vec::new();
        let mut conflicts = Vec::new();
        for (fi, kind) in [
            (F_PREDEPENDS, RelationKind::PreDepends),
            (F_DEPENDS, RelationKind::Depends),
        ] {
            if let Some((l, v)) = get(fi) {
                self.relations(v, l, kind, true, &mut depends)?;
            }
        }
        for (fi, kind) in [
            (F_CONFLICTS, RelationKind::Conflicts),
            (F_BREAKS, RelationKind::Breaks),
        ] {
            if let Some((l, v)) = get(fi) {
                self.relations(v, l, kind, false, &mut conflicts)?;
            }
        }
        let mut replaces = Vec::new();
        if let Some((l, v)) = get(F_REPLACES) {
            self.relations(v, l, RelationKind::Replaces, false, &mut replaces)?;
        }
        let mut recommends = Vec::new();
        if let Some((l, v)) = get(F_RECOMMENDS) {
            self.relations(v, l, RelationKind::Depends, true, &mut recommends)?;
        }
        let mut suggests = Vec::new();
        if let Some((l, v)) = get(F_SUGGESTS) {
            self.relations(v, l, RelationKind::Depends, true, &mut suggests)?;
        }
        let mut provides = Vec::new();
        if let Some((l, v)) = get(F_PROVIDES) {
            let mut tmp = Vec::new();
            self.relations(v, l, RelationKind::Depends, false, &mut tmp)?;
            for r in tmp {
                for a in r.alternatives {
                    let version = match a.constraint {
                        VersionConstraint::Any => None,
                        VersionConstraint::Cmp(CmpOp::Eq, v) => Some(v),
                        other => {
                            return Err(
                                self.err(l, format!("Provides may only use `=`, found `{other}`"))
                            );
                        }
                    };
                    provides.push(Provide {
                        package: a.package,
                        version,
                    });
                }
            }
        }
        let meta = CandidateMeta {
            url: get(F_FILENAME).map(|(_, f)| f.to_string()),
            sha256: get(F_SHA256).map(|(_, f)| f.to_string()),
            md5: get(F_MD5).map(|(_, f)| f.to_string()),
            first_seen: None,
            provenance: Some(format!("{}:{}", self.file, pl)),
            architecture: arch.map(str::to_string),
            multi_arch,
            essential: matches!(get(F_ESSENTIAL), Some((_, v)) if v.eq_ignore_ascii_case("yes")),
            priority: get(F_PRIORITY).map(|(_, p)| p.to_string()),
            source: get(F_SOURCE).map(|(_, s)| s.to_string()),
            replaces,
            recommends,
            suggests,
            ..CandidateMeta::default()
        };
        let pid = self.u.intern_in(self.scope, self.domain, name);
        let before = self.u.candidate_count();
        self.u
            .add_candidate(pid, version, meta, depends, conflicts, provides)?;
        if self.u.candidate_count() > before {
            self.added += 1;
        }
        Ok(())
    }

    /// Parses a relation field (`a (>= 1) | b:any, c [amd64] <!nocheck>`).
    fn relations(
        &mut self,
        value: &str,
        line: usize,
        kind: RelationKind,
        allow_alternatives: bool,
        out: &mut Vec<Requirement>,
    ) -> Result<(), UniverseError> {
        let origin = format!("{}:{}", self.file, line);
        for group in value.split(',') {
            let group = group.trim();
            if group.is_empty() {
                continue;
            }
            let mut alternatives = Vec::with_capacity(1);
            for (i, alt) in group.split('|').enumerate() {
                if i > 0 && !allow_alternatives {
                    return Err(self.err(
                        line,
                        format!("alternatives are not allowed here: `{group}`"),
                    ));
                }
                let rel = parse_relation(alt).map_err(|m| self.err(line, m.to_string()))?;
                if rel
                    .arch_list
                    .is_some_and(|archs| !arch_list_matches(archs, self.native))
                {
                    continue;
                }
                let package = self.u.intern_in(self.scope, self.domain, rel.name);
                alternatives.push(Alternative {
                    package,
                    constraint: rel.constraint,
                    arch: rel.arch,
                });
            }
            if alternatives.is_empty() {
                continue;
            }
            out.push(Requirement {
                alternatives,
                kind,
                origin: Some(origin.clone()),
            });
        }
        Ok(())
    }
}

fn arch_list_matches(list: &str, native: Option<&str>) -> bool {
    let Some(native) = native else { return true };
    let mut any_positive = false;
    let mut hit = false;
    for a in list.split_whitespace() {
        if let Some(neg) = a.strip_prefix('!') {
            if neg == native || neg == "any" {
                return false;
            }
        } else {
            any_positive = true;
            if a == native || a == "any" {
                hit = true;
            }
        }
    }
    !any_positive || hit
}

/// Why a Debian package name or relation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    /// An empty package name.
    #[error("empty package name")]
    EmptyName,
    /// A package name Debian Policy does not allow.
    #[error("invalid package name `{0}`")]
    BadName(String),
    /// A relation without a package name.
    #[error("missing package name in relation `{0}`")]
    MissingName(String),
    /// `name:` with nothing after the colon.
    #[error("empty architecture qualifier in `{0}`")]
    EmptyArch(String),
    /// A `(`, `[` or `<` that is not closed.
    #[error("unclosed `{0}` in relation `{1}`")]
    Unclosed(char, String),
    /// A version operator Debian does not know.
    #[error("unknown version operator `{op}` in `{relation}`")]
    Operator {
        /// The operator.
        op: String,
        /// The relation.
        relation: String,
    },
    /// A malformed version in a relation.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// Text after the relation.
    #[error("unexpected `{rest}` in relation `{relation}`")]
    Unexpected {
        /// What follows.
        rest: String,
        /// The relation.
        relation: String,
    },
}

/// Checks a Debian package name (Policy 5.6.1, lenient about upper case as apt is).
pub fn check_name(name: &str) -> Result<(), RelationError> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Err(RelationError::EmptyName);
    }
    if !b[0].is_ascii_alphanumeric()
        || !b
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_'))
    {
        return Err(RelationError::BadName(truncate(name)));
    }
    Ok(())
}

struct ParsedRelation<'a> {
    name: &'a str,
    arch: ArchQualifier,
    constraint: VersionConstraint,
    arch_list: Option<&'a str>,
}

fn parse_relation(s: &str) -> Result<ParsedRelation<'_>, RelationError> {
    let s = s.trim();
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<'))
        .unwrap_or(s.len());
    let head = &s[..end];
    let mut rest = s[end..].trim_start();
    if head.is_empty() {
        return Err(RelationError::MissingName(truncate(s)));
    }
    let (name, arch) = match head.split_once(':') {
        Some((n, "any")) => (n, ArchQualifier::Any),
        Some((n, "native")) => (n, ArchQualifier::Native),
        Some((n, a)) if !a.is_empty() => (n, ArchQualifier::Named(a.to_string())),
        Some(_) => return Err(RelationError::EmptyArch(truncate(s))),
        None => (head, ArchQualifier::None),
    };
    check_name(name)?;
    let mut constraint = VersionConstraint::Any;
    if let Some(r) = rest.strip_prefix('(') {
        let close = r
            .find(')')
            .ok_or_else(|| RelationError::Unclosed('(', truncate(s)))?;
        let inner = r[..close].trim();
        rest = r[close + 1..].trim_start();
        let opend = inner
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(inner.len());
        let op = match &inner[..opend] {
            "<<" => CmpOp::Lt,
            "<=" | "<" => CmpOp::Le,
            "=" => CmpOp::Eq,
            ">=" | ">" => CmpOp::Ge,
            ">>" => CmpOp::Gt,
            other => {
                return Err(RelationError::Operator {
                    op: other.to_string(),
                    relation: truncate(s),
                });
            }
        };
        let v = inner[opend..].trim();
        deb_validate(v)?;
        constraint = VersionConstraint::Cmp(op, v.to_string());
    }
    let mut arch_list = None;
    if let Some(r) = rest.strip_prefix('[') {
        let close = r
            .find(']')
            .ok_or_else(|| RelationError::Unclosed('[', truncate(s)))?;
        arch_list = Some(r[..close].trim());
        rest = r[close + 1..].trim_start();
    }
    while let Some(r) = rest.strip_prefix('<') {
        // Build profiles only matter for source packages; they are syntax-checked and ignored.
        let close = r
            .find('>')
            .ok_or_else(|| RelationError::Unclosed('<', truncate(s)))?;
        rest = r[close + 1..].trim_start();
    }
    if !rest.is_empty() {
        return Err(RelationError::Unexpected {
            rest: truncate(rest),
            relation: truncate(s),
        });
    }
    Ok(ParsedRelation {
        name,
        arch,
        constraint,
        arch_list,
    })
}

/// Parses a relation field into requirements of `domain` (used for command-line
/// and manifest input such as `libc6 (>= 2.31) | libc6.1`).
pub fn parse_requirements(
    u: &mut Universe,
    domain: &str,
    value: &str,
    origin: &str,
) -> Result<Vec<Requirement>, UniverseError> {
    let scope = u.scope(Ecosystem::Deb, domain);
    let native = domain.rsplit_once('/').map(|(_, a)| a.to_string());
    let mut l = Loader {
        u,
        scope,
        domain,
        file: origin,
        native: native.as_deref(),
        added: 0,
    };
    let mut out = Vec::new();
    l.relations(value, 0, RelationKind::Root, true, &mut out)
        .map_err(|e| match e {
            UniverseError::Parse { message, .. } => UniverseError::Parse {
                file: origin.to_string(),
                line: 0,
                message,
            },
            other => other,
        })?;
    for r in &mut out {
        r.origin = Some(origin.to_string());
    }
    Ok(out)
}

/// Convenience for callers holding a package id: a Debian requirement with an optional exact version.
pub fn exact(package: PackageId, version: Option<&str>) -> Requirement {
    Requirement::single(
        package,
        match version {
            Some(v) => VersionConstraint::Cmp(CmpOp::Eq, v.to_string()),
            None => VersionConstraint::Any,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDX: &str = "Package: a\nVersion: 1.0-1\nArchitecture: amd64\nDepends: b (>= 2) | c:any, d [!amd64], e [amd64 i386] <!nocheck>\nPre-Depends: libc6\nConflicts: x (<< 3)\nBreaks: y\nProvides: v (= 1.5), w\nReplaces: z\nEssential: yes\nDescription: foo\n bar baz\n\nPackage: b\nVersion: 2:1\nArchitecture: i386\n\nPackage: c\nVersion: 1\nArchitecture: all\nMulti-Arch: allowed\nDepends: f,\n g\n";

    #[test]
    fn parses_all_relation_fields() {
        let mut u = Universe::new();
        let n = load_packages(&mut u, IDX.as_bytes(), "Packages", "bullseye/amd64").unwrap();
        assert_eq!(n, 2, "the i386 stanza is skipped");
        let a = u
            .lookup_name(Ecosystem::Deb, "bullseye/amd64", "a")
            .unwrap();
        let ca = u.candidate(u.candidates_of(a)[0]);
        assert!(ca.meta.essential);
        assert_eq!(ca.depends.len(), 3, "libc6, b|c, e");
        assert_eq!(ca.depends[0].kind, RelationKind::PreDepends);
        assert_eq!(ca.depends[1].alternatives.len(), 2);
        assert_eq!(ca.depends[1].alternatives[1].arch, ArchQualifier::Any);
        assert_eq!(ca.depends[1].origin.as_deref(), Some("Packages:4"));
        assert_eq!(ca.conflicts.len(), 2);
        assert_eq!(ca.conflicts[1].kind, RelationKind::Breaks);
        assert_eq!(ca.provides.len(), 2);
        assert_eq!(ca.provides[0].version.as_deref(), Some("1.5"));
        assert_eq!(ca.meta.replaces.len(), 1);
        let c = u
            .lookup_name(Ecosystem::Deb, "bullseye/amd64", "c")
            .unwrap();
        let cc = u.candidate(u.candidates_of(c)[0]);
        assert_eq!(cc.depends.len(), 2, "continuation lines join the field");
        assert_eq!(cc.meta.multi_arch, MultiArch::Allowed);
    }

    #[test]
    fn repeated_fields_are_refused_and_a_bom_is_not_part_of_the_first_name() {
        let mut u = Universe::new();
        let text = "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b\ndepends: c\n";
        let e = load_packages(&mut u, text.as_bytes(), "P", "bullseye/amd64")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("P:5:") && e.contains("`depends` repeated") && e.contains("line 4"),
            "{e}"
        );
        let mut u = Universe::new();
        let text = "\u{feff}Package: a\nVersion: 1\nArchitecture: amd64\n";
        assert_eq!(
            load_packages(&mut u, text.as_bytes(), "P", "bullseye/amd64").unwrap(),
            1
        );
        assert!(
            u.lookup_name(Ecosystem::Deb, "bullseye/amd64", "a")
                .is_some()
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("Package: a\nVersion: 1\nDepends: b (>= )\n", 3),
            ("Package: a\nVersion: x1\n", 2),
            ("Package: a\nVersion: 1\nDepends: b (~ 1)\n", 3),
            ("Package: a\nVersion: 1\n\nPackage: ../x\nVersion: 1\n", 4),
            ("Package: a\nno colon here\n", 2),
            (" lead\n", 1),
            ("Package: a\nVersion: 1\nProvides: b (>= 1)\n", 3),
            ("Version: 1\n", 1),
            ("Package: a\nVersion: 1\nDepends: b (= 1\n", 3),
        ];
        for (text, line) in cases {
            let mut u = Universe::new();
            let e = load_packages(&mut u, text.as_bytes(), "idx/Packages", "s/amd64").unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("idx/Packages:{line}:")),
                "{text:?} -> {msg}"
            );
        }
        let mut u = Universe::new();
        let e = load_packages(&mut u, b"Package: a\nVersion: 1\xff\n", "P", "s").unwrap_err();
        assert!(e.to_string().contains("P:2: not valid UTF-8"), "{e}");
        assert!(
            load_packages_xz(&mut u, b"not xz", "P.xz", "s")
                .unwrap_err()
                .to_string()
                .starts_with("P.xz")
        );
    }

    #[test]
    fn xz_and_auto() {
        let mut enc = xz2::write::XzEncoder::new(Vec::new(), 1);
        std::io::Write::write_all(&mut enc, IDX.as_bytes()).unwrap();
        let xz = enc.finish().unwrap();
        let mut u = Universe::new();
        assert_eq!(
            load_packages_auto(&mut u, &xz, "Packages.xz", "bullseye/amd64").unwrap(),
            2
        );
    }
}
