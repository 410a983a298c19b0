//! Integration tests of the lockfile and what is made from it: SONiC versions
//! trees, `export`, `import` and `diff`.

mod cli;
mod file;
mod versions;
