//! One small member out of a distribution file, with bounded memory: a zip
//! (a wheel, a zip sdist) through its central directory, so that only the
//! file's tail and the member itself need be fetched, and a tar sdist
//! streamed. Every offset and size an archive declares is checked against
//! the file and a cap before anything is read or allocated, and a member's
//! CRC-32 is checked after inflating it.

use crate::source::SourceError;
use std::io::Read;

/// Largest member read (core metadata, even with a long description, is far smaller).
pub const MAX_MEMBER: u64 = 16 << 20;
/// Largest central directory read (a wheel of tens of thousands of files stays under it).
pub const MAX_CENTRAL_DIR: u64 = 32 << 20;
/// Bytes from the end that hold the end-of-central-directory record: 22 bytes and a comment of at most 64 KiB.
pub const ZIP_TAIL: u64 = 22 + 0xffff;
/// Entries of a tar read before giving up on finding the member.
const MAX_TAR_ENTRIES: usize = 200_000;

const EOCD: &[u8; 4] = b"PK\x05\x06";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";
const LOCAL: &[u8; 4] = b"PK\x03\x04";
/// Room left for a local header whose extra field differs from the central one.
const LOCAL_SLACK: u64 = 1024;

/// Reads `len` bytes at offset `start` of the archive (exactly that many, or an error).
pub type ReadAt<'a> = dyn FnMut(u64, u64) -> Result<Vec<u8>, SourceError> + 'a;

/// A member found in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the archive.
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

fn u16_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes(
        b.get(i..i + 2)?.try_into().ok()?,
    )))
}

fn u32_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from(u32::from_le_bytes(
        b.get(i..i + 4)?.try_into().ok()?,
    )))
}

/// One central directory entry, as declared.
struct Entry {
    name: String,
    flags: u64,
    method: u64,
    crc: u64,
    compressed: u64,
    size: u64,
    local: u64,
}

/// The member of a zip of `total` bytes that `pick` selects (exactly one
/// must match). `tail` is the file's last bytes (at least the
/// end-of-central-directory record; [`ZIP_TAIL`] bytes are enough), and
/// `read_at` reads other parts; `location` (a URL) names the file in errors.
pub fn zip_member(
    total: u64,
    tail: &[u8],
    read_at: &mut ReadAt<'_>,
    pick: &dyn Fn(&str) -> bool,
    location: &str,
) -> Result<Member, SourceError> {
    let bad = |m: String| SourceError::parse(location, format!("not a readable zip: {m}"));
    let tail_start = total
        .checked_sub(tail.len() as u64)
        .ok_or_else(|| bad("tail longer than the file".into()))?;
    // The last record signature whose comment fits what follows it, as zip readers do.
    let eocd = (0..=tail.len().saturating_sub(22))
        .rev()
        .filter(|&i| tail.len() >= 22 && &tail[i..i + 4] == EOCD)
        .find(|&i| u16_at(tail, i + 20).is_some_and(|c| i as u64 + 22 + c <= tail.len() as u64))
        .ok_or_else(|| bad("no end-of-central-directory record".into()))?;
    let field = |off: usize| u16_at(tail, eocd + off).unwrap_or(0);
    let (disk, cd_disk, count) = (field(4), field(6), field(10));
    let cd_size = u32_at(tail, eocd + 12).unwrap_or(0);
    let cd_offset = u32_at(tail, eocd + 16).unwrap_or(0);
    if count == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        return Err(bad("zip64 archives are not read".into()));
    }
    if disk != 0 || cd_disk != 0 {
        return Err(bad("multi-disk archive".into()));
    }
    let eocd_at = tail_start + eocd as u64;
    if cd_offset
        .checked_add(cd_size)
        .is_none_or(|end| end > eocd_at)
    {
        return Err(bad(format!(
            "central directory ({cd_size} bytes at {cd_offset}) runs past its end record at {eocd_at}"
        )));
    }
    if cd_size > MAX_CENTRAL_DIR || cd_size < count * 46 {
        return Err(bad(format!(
            "central directory of {cd_size} bytes for {count} entries"
        )));
    }
    let cd = if cd_offset >= tail_start {
        let from = usize::try_from(cd_offset - tail_start).map_err(|e| bad(e.to_string()))?;
        tail[from..from + cd_size as usize].to_vec()
    } else {
        exact(read_at(cd_offset, cd_size)?, cd_size, location)?
    };
    let entries = central_entries(&cd, count).map_err(bad)?;
    let mut found = entries.into_iter().filter(|e| pick(&e.name));
    let (Some(e), None) = (found.next(), found.next()) else {
        return Err(bad("no single member of the kind wanted".into()));
    };
    read_entry(&e, cd_offset, read_at, location)
}

fn central_entries(cd: &[u8], count: u64) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    for n in 0..count {
        let short = || format!("central directory entry {n} is cut short");
        if cd.get(at..at + 4) != Some(CENTRAL) {
            return Err(format!("central directory entry {n} has no signature"));
        }
        let f = |off: usize| u16_at(cd, at + off).ok_or_else(short);
        let g = |off: usize| u32_at(cd, at + off).ok_or_else(short);
        let (name_len, extra_len, comment_len) = (f(28)?, f(30)?, f(32)?);
        let name_at = at + 46;
        let name = cd
            .get(name_at..name_at + name_len as usize)
            .ok_or_else(short)?;
        out.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: f(8)?,
            method: f(10)?,
            crc: g(16)?,
            compressed: g(20)?,
            size: g(24)?,
            local: g(42)?,
        });
        at = name_at + (name_len + extra_len + comment_len) as usize;
    }
    Ok(out)
}

fn read_entry(
    e: &Entry,
    cd_offset: u64,
    read_at: &mut ReadAt<'_>,
    location: &str,
) -> Result<Member, SourceError> {
    let bad = |m: String| SourceError::parse(location, format!("zip member {}: {m}", e.name));
    if e.flags & 1 != 0 {
        return Err(bad("encrypted".into()));
    }
    if e.compressed > MAX_MEMBER || e.size > MAX_MEMBER {
        return Err(bad(format!(
            "declares {} bytes ({} compressed), more than the {MAX_MEMBER} read",
            e.size, e.compressed
        )));
    }
    // Member data lies before the central directory; nothing past it is asked for.
    let room = cd_offset
        .checked_sub(e.local)
        .filter(|r| *r >= 30)
        .ok_or_else(|| {
            bad(format!(
                "local header at {} is not before the central directory",
                e.local
            ))
        })?;
    let guess = (30 + e.name.len() as u64 + LOCAL_SLACK + e.compressed).min(room);
    let mut buf = exact(read_at(e.local, guess)?, guess, location)?;
    if buf.get(..4) != Some(LOCAL) {
        return Err(bad("no local header signature".into()));
    }
    let header = 30 + u16_at(&buf, 26).unwrap_or(0) + u16_at(&buf, 28).unwrap_or(0);
    let end = header + e.compressed;
    if end > room {
        return Err(bad("data runs into the central directory".into()));
    }
    if end > buf.len() as u64 {
        buf = exact(read_at(e.local, end)?, end, location)?;
    }
    let data = &buf[header as usize..end as usize];
    let bytes = match e.method {
        0 if e.compressed == e.size => data.to_vec(),
        0 => return Err(bad("stored with two different sizes".into())),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .take(e.size + 1)
                .read_to_end(&mut out)
                .map_err(|x| bad(format!("does not inflate: {x}")))?;
            if out.len() as u64 != e.size {
                return Err(bad(format!(
                    "inflates to {} bytes, not the {} declared",
                    out.len(),
                    e.size
                )));
            }
            out
        }
        m => return Err(bad(format!("compression method {m} is not read"))),
    };
    let mut crc = flate2::Crc::new();
    crc.update(&bytes);
    if u64::from(crc.sum()) != e.crc {
        return Err(bad(format!(
            "CRC-32 {:08x} does not match the declared {:08x}",
            crc.sum(),
            e.crc
        )));
    }
    Ok(Member {
        name: e.name.clone(),
        bytes,
    })
}

fn exact(bytes: Vec<u8>, len: u64, location: &str) -> Result<Vec<u8>, SourceError> {
    if bytes.len() as u64 == len {
        Ok(bytes)
    } else {
        Err(SourceError::parse(
            location,
            format!("asked for {len} bytes, read {}", bytes.len()),
        ))
    }
}

/// The member of a whole zip in memory that `pick` selects.
pub fn zip_member_in(
    bytes: &[u8],
    pick: &dyn Fn(&str) -> bool,
    location: &str,
) -> Result<Member, SourceError> {
    let total = bytes.len() as u64;
    let tail = &bytes[bytes.len().saturating_sub(ZIP_TAIL as usize)..];
    let mut read_at = |start: u64, len: u64| {
        let slice = usize::try_from(start)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(s, l)| bytes.get(s..s.checked_add(l)?));
        slice.map(<[u8]>::to_vec).ok_or_else(|| {
            SourceError::parse(location, format!("{len} bytes at {start} are past the end"))
        })
    };
    zip_member(total, tail, &mut read_at, pick, location)
}

/// The first member of a tar stream that `pick` selects (its entries are
/// read one by one, never the whole archive at once).
pub fn tar_member(
    stream: impl Read,
    pick: &dyn Fn(&str) -> bool,
    location: &str,
) -> Result<Member, SourceError> {
    let bad = |m: String| SourceError::parse(location, format!("not a readable tar: {m}"));
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries.take(MAX_TAR_ENTRIES) {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| bad(e.to_string()))?;
        if !pick(&name) || !entry.header().entry_type().is_file() {
            continue;
        }
        let size = entry.size();
        if size > MAX_MEMBER {
            return Err(bad(format!("{name} declares {size} bytes")));
        }
        let mut bytes = Vec::new();
        entry
            .take(MAX_MEMBER)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        return Ok(Member { name, bytes });
    }
    Err(bad("no member of the kind wanted".into()))
}

/// The member of an sdist (by its file name: `.tar.gz`, `.tgz`, `.tar.xz`, `.tar` or `.zip`) that `pick` selects.
pub fn sdist_member(
    filename: &str,
    bytes: &[u8],
    pick: &dyn Fn(&str) -> bool,
    location: &str,
) -> Result<Member, SourceError> {
    if filename.ends_with(".tar.gz") || filename.ends_with(".tgz") {
        tar_member(flate2::read::GzDecoder::new(bytes), pick, location)
    } else if filename.ends_with(".tar.xz") {
        tar_member(xz2::read::XzDecoder::new(bytes), pick, location)
    } else if filename.ends_with(".tar") {
        tar_member(bytes, pick, location)
    } else if filename.ends_with(".zip") {
        zip_member_in(bytes, pick, location)
    } else {
        Err(SourceError::parse(
            location,
            "sdist format not read (only .tar.gz, .tgz, .tar.xz, .tar and .zip)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip with the given members, written by hand.
    fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in members {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let local = out.len() as u32;
            let common = |v: &mut Vec<u8>| {
                v.extend_from_slice(&20u16.to_le_bytes()); // version needed
                v.extend_from_slice(&0u16.to_le_bytes()); // flags
                v.extend_from_slice(&0u16.to_le_bytes()); // stored
                v.extend_from_slice(&[0; 4]); // time, date
                v.extend_from_slice(&crc.sum().to_le_bytes());
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                v.extend_from_slice(&0u16.to_le_bytes()); // extra
            };
            out.extend_from_slice(LOCAL);
            common(&mut out);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(CENTRAL);
            central.extend_from_slice(&20u16.to_le_bytes()); // made by
            common(&mut central);
            central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
            central.extend_from_slice(&[0; 4]); // external attributes
            central.extend_from_slice(&local.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(EOCD);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn is_metadata(n: &str) -> bool {
        n.split_once('/')
            .is_some_and(|(d, f)| d.ends_with(".dist-info") && f == "METADATA")
    }

    #[test]
    fn reads_a_stored_member_and_checks_its_crc() {
        let z = stored_zip(&[
            ("x/__init__.py", b"pass\n"),
            ("x-1.0.dist-info/METADATA", b"Name: x\n"),
        ]);
        let m = zip_member_in(&z, &is_metadata, "u").unwrap();
        assert_eq!(
            (m.name.as_str(), m.bytes.as_slice()),
            ("x-1.0.dist-info/METADATA", &b"Name: x\n"[..])
        );
        let mut bad = z.clone();
        let at = bad.windows(7).position(|w| w == b"Name: x").unwrap();
        bad[at] = b'n';
        let e = zip_member_in(&bad, &is_metadata, "u")
            .unwrap_err()
            .to_string();
        assert!(e.contains("CRC-32"), "{e}");
    }

    #[test]
    fn every_prefix_and_every_flipped_byte_is_an_error_or_a_member_never_a_panic() {
        let z = stored_zip(&[("x-1.0.dist-info/METADATA", b"Name: x\nRequires-Dist: y\n")]);
        for n in 0..z.len() {
            let _ = zip_member_in(&z[..n], &is_metadata, "u");
        }
        for i in 0..z.len() {
            for v in [0u8, 0xff, 0x7f] {
                let mut b = z.clone();
                b[i] = v;
                let _ = zip_member_in(&b, &is_metadata, "u");
            }
        }
    }
}
