//! Conflict-driven search over a compiled [`Problem`]: unit propagation with
//! two watched literals, first-UIP conflict analysis that learns a clause,
//! and non-chronological backjumping to the second-highest level of the
//! learned clause. Decisions follow the package manager's order: take the
//! first requirement of a chosen candidate that is not yet satisfied and pick
//! its most preferred alternative; when none is open the assignment (every
//! undecided candidate left out) satisfies everything.

use super::problem::{ExclOrigin, Lit, Problem, is_neg, neg, pos, var};

/// Why a variable has its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A decision or assumption.
    Decision,
    /// Implied by a clause (problem clause or learned).
    Clause(u32),
    /// Set false because the given variable is true and excludes it.
    Excl(u32),
}

/// One premise of a learned clause or of a final conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ante {
    /// A clause id (problem clauses first, then learned ones).
    Clause(u32),
    /// The exclusion between two variables.
    Excl(u32, u32),
}

#[derive(Debug, Clone, Copy)]
enum Conflict {
    Clause(u32),
    Excl(u32, u32),
}

/// Search state over one problem; reusable for many queries (learned clauses are kept).
pub struct Engine<'p> {
    p: &'p Problem,
    val: Vec<i8>,
    level: Vec<u32>,
    reason: Vec<Reason>,
    trail: Vec<Lit>,
    trail_lim: Vec<u32>,
    qhead: usize,
    lits: Vec<Lit>,
    spans: Vec<(u32, u32)>,
    watches: Vec<Vec<u32>>,
    proof: Option<Vec<Vec<Ante>>>,
    seen: Vec<bool>,
    scan_pos: usize,
    soft: Vec<u32>,
    soft_pos: usize,
    final_conflict: Option<Vec<Ante>>,
    failed_assumption: Option<usize>,
    /// Number of conflicts analysed so far.
    pub conflicts: u64,
    /// Number of decisions taken so far.
    pub decisions: u64,
    /// Number of backjumps that skipped at least one level.
    pub backjumps: u64,
    /// Number of assignments made (propagations and decisions).
    pub assignments: u64,
    ok: bool,
}

impl<'p> Engine<'p> {
    /// A fresh engine; `track_proof` records the premises of every learned clause (for explanations).
    pub fn new(p: &'p Problem, track_proof: bool) -> Engine<'p> {
        let n = p.nvars as usize;
        let mut e = Engine {
            p,
            val: vec![0; n],
            level: vec![0; n],
            reason: vec![Reason::Decision; n],
            trail: Vec::with_capacity(1024),
            trail_lim: Vec::new(),
            qhead: 0,
            lits: p.lits.clone(),
            spans: p.clauses.iter().map(|(s, l, _)| (*s, *l)).collect(),
            watches: vec![Vec::new(); 2 * n],
            proof: if track_proof { Some(Vec::new()) } else { None },
            seen: vec![false; n],
            scan_pos: 0,
            soft: Vec::new(),
            soft_pos: 0,
            final_conflict: None,
            failed_assumption: None,
            conflicts: 0,
            decisions: 0,
            backjumps: 0,
            assignments: 0,
            ok: true,
        };
        for (ci, &(s, l)) in e.spans.iter().enumerate() {
            if l >= 2 {
                e.watches[e.lits[s as usize] as usize].push(ci as u32);
                e.watches[e.lits[s as usize + 1] as usize].push(ci as u32);
            }
        }
        for (ci, &(s, l)) in e.spans.clone().iter().enumerate() {
            if l == 0 {
                e.ok = false;
                e.final_conflict = Some(vec![Ante::Clause(ci as u32)]);
            } else if l == 1 {
                let lit = e.lits[s as usize];
                match e.lit_val(lit) {
                    0 => e.assign(lit, Reason::Clause(ci as u32)),
                    -1 => {
                        e.ok = false;
                        e.final_conflict = Some(vec![Ante::Clause(ci as u32)]);
                    }
                    _ => {}
                }
            }
        }
        e
    }

    /// Candidates to keep if possible (decided true before anything else, in order); used
    /// for apt's "keep what is installed" and for closest-to-reference preferences.
    pub fn set_soft(&mut self, vars: Vec<u32>) {
        self.soft = vars;
        self.soft_pos = 0;
    }

    #[inline]
    fn lit_val(&self, l: Lit) -> i8 {
        let v = self.val[var(l) as usize];
        if is_neg(l) { -v } else { v }
    }

    /// The value of a variable: 1 true, -1 false, 0 unassigned.
    pub fn value(&self, v: u32) -> i8 {
        self.val[v as usize]
    }

    fn decision_level(&self) -> u32 {
        self.trail_lim.len() as u32
    }

    #[inline]
    fn assign(&mut self, l: Lit, r: Reason) {
        let v = var(l) as usize;
        self.val[v] = if is_neg(l) { -1 } else { 1 };
        self.level[v] = self.decision_level();
        self.reason[v] = r;
        self.trail.push(l);
        self.assignments += 1;
    }

    fn propagate(&mut self) -> Option<Conflict> {
        while self.qhead < self.trail.len() {
            let l = self.trail[self.qhead];
            self.qhead += 1;
            let v = var(l);
            if !is_neg(l) {
                let mut conflict = None;
                let p = self.p;
                p.for_each_excl(v, |w, _| match self.val[w as usize] {
                    1 => {
                        conflict = Some(Conflict::Excl(v, w));
                        false
                    }
                    0 => {
                        self.assign(neg(w), Reason::Excl(v));
                        true
                    }
                    _ => true,
                });
                if let Some(c) = conflict {
                    return Some(c);
                }
            }
            let fl = l ^ 1;
            let mut ws = std::mem::take(&mut self.watches[fl as usize]);
            let mut i = 0;
            let mut j = 0;
            let mut conflict = None;
            while i < ws.len() {
                let ci = ws[i];
                i += 1;
                let (s, len) = self.spans[ci as usize];
                let s = s as usize;
                if self.lits[s] == fl {
                    self.lits.swap(s, s + 1);
                }
                let first = self.lits[s];
                if self.lit_val(first) == 1 {
                    ws[j] = ci;
                    j += 1;
                    continue;
                }
                let mut found = false;
                for k in 2..len as usize {
                    let lk = self.lits[s + k];
                    if self.lit_val(lk) != -1 {
                        self.lits.swap(s + 1, s + k);
                        self.watches[lk as usize].push(ci);
                        found = true;
                        break;
                    }
                }
                if found {
                    continue;
                }
                ws[j] = ci;
                j += 1;
                if self.lit_val(first) == -1 {
                    conflict = Some(Conflict::Clause(ci));
                    while i < ws.len() {
                        ws[j] = ws[i];
                        j += 1;
                        i += 1;
                    }
                } else {
                    self.assign(first, Reason::Clause(ci));
                }
            }
            ws.truncate(j);
            self.watches[fl as usize] = ws;
            if conflict.is_some() {
                return conflict;
            }
        }
        None
    }

    fn clause_of(&self, c: Ante, buf: &mut Vec<Lit>) {
        buf.clear();
        match c {
            Ante::Clause(ci) => {
                let (s, l) = self.spans[ci as usize];
                buf.extend_from_slice(&self.lits[s as usize..(s + l) as usize]);
            }
            Ante::Excl(a, b) => {
                buf.push(neg(a));
                buf.push(neg(b));
            }
        }
    }

    fn reason_ante(&self, v: u32) -> Option<Ante> {
        match self.reason[v as usize] {
            Reason::Decision => None,
            Reason::Clause(ci) => Some(Ante::Clause(ci)),
            Reason::Excl(u) => Some(Ante::Excl(u, v)),
        }
    }

    fn analyze(&mut self, confl: Conflict) -> (Vec<Lit>, u32, Vec<Ante>) {
        let cur = self.decision_level();
        let mut learnt: Vec<Lit> = vec![0];
        let mut antes = Vec::new();
        let mut pathc = 0u32;
        let mut p: Option<Lit> = None;
        let mut idx = self.trail.len();
        let mut ante = match confl {
            Conflict::Clause(ci) => Ante::Clause(ci),
            Conflict::Excl(a, b) => Ante::Excl(a, b),
        };
        let mut buf = Vec::new();
        loop {
            if self.proof.is_some() {
                antes.push(ante);
            }
            self.clause_of(ante, &mut buf);
            for &q in &buf {
                if Some(q) == p {
                    continue;
                }
                let v = var(q) as usize;
                if !self.seen[v] && self.level[v] > 0 {
                    self.seen[v] = true;
                    if self.level[v] == cur {
                        pathc += 1;
                    } else {
                        learnt.push(q);
                    }
                }
            }
            loop {
                idx -= 1;
                if self.seen[var(self.trail[idx]) as usize] {
                    break;
                }
            }
            let pl = self.trail[idx];
            let pv = var(pl);
            self.seen[pv as usize] = false;
            pathc -= 1;
            if pathc == 0 {
                learnt[0] = pl ^ 1;
                break;
            }
            ante = match self.reason_ante(pv) {
                Some(a) => a,
                None => {
                    // Only the decision of this level has no reason, and it is the last one found.
                    learnt[0] = pl ^ 1;
                    break;
                }
            };
            p = Some(pl);
        }
        for &q in &learnt[1..] {
            self.seen[var(q) as usize] = false;
        }
        let mut bt = 0;
        let mut bi = 0;
        for (i, &q) in learnt.iter().enumerate().skip(1) {
            let lv = self.level[var(q) as usize];
            if lv > bt {
                bt = lv;
                bi = i;
            }
        }
        if bi > 1 {
            learnt.swap(1, bi);
        }
        (learnt, bt, antes)
    }

    fn backtrack(&mut self, lvl: u32) {
        if self.decision_level() <= lvl {
            return;
        }
        let lim = self.trail_lim[lvl as usize] as usize;
        for &l in &self.trail[lim..] {
            let v = var(l) as usize;
            self.val[v] = 0;
            self.reason[v] = Reason::Decision;
        }
        self.trail.truncate(lim);
        self.trail_lim.truncate(lvl as usize);
        self.qhead = lim;
        self.scan_pos = 0;
        self.soft_pos = 0;
    }

    /// The index of the assumption found false by the last failed [`Engine::solve`], if that is why it failed.
    pub fn failed_assumption(&self) -> Option<usize> {
        self.failed_assumption
    }

    /// The decision level a variable was assigned at (meaningless when unassigned).
    pub fn level_of(&self, v: u32) -> u32 {
        self.level[v as usize]
    }

    /// The decision (or assumption) literal of every level, in order; replaying
    /// them as assumptions rebuilds the current assignment.
    pub fn decision_literals(&self) -> Vec<Lit> {
        self.trail_lim
            .iter()
            .map(|&i| self.trail.get(i as usize).copied().unwrap_or(0))
            .collect()
    }

    /// Undoes the decisions above `level`.
    pub fn backtrack_to(&mut self, level: u32) {
        self.backtrack(level);
    }

    /// Undoes every decision, keeping level-0 facts and learned clauses.
    pub fn reset(&mut self) {
        self.backtrack(0);
    }

    fn next_decision(&mut self) -> Option<Lit> {
        while self.soft_pos < self.soft.len() {
            let v = self.soft[self.soft_pos];
            if self.val[v as usize] == 0 {
                return Some(pos(v));
            }
            self.soft_pos += 1;
        }
        while self.scan_pos < self.trail.len() {
            let l = self.trail[self.scan_pos];
            if !is_neg(l) {
                let v = var(l);
                let (d0, d1) = self.p.deps_of[v as usize];
                for ci in d0..d1 {
                    let lits = &self.p.clause_lits(ci)[1..];
                    if lits.iter().any(|&d| self.lit_val(d) == 1) {
                        continue;
                    }
                    if let Some(&d) = lits.iter().find(|&&d| self.lit_val(d) == 0) {
                        return Some(d);
                    }
                }
            }
            self.scan_pos += 1;
        }
        None
    }

    /// Searches for an assignment making every assumption true. Returns true when
    /// one exists (read it with [`Engine::true_vars`]); false when none does (read
    /// the premises with [`Engine::final_conflict`]). The engine stays at the
    /// found assignment until [`Engine::reset`].
    pub fn solve(&mut self, assumptions: &[Lit]) -> bool {
        self.final_conflict = None;
        self.failed_assumption = None;
        if !self.ok {
            return false;
        }
        loop {
            if let Some(confl) = self.propagate() {
                self.conflicts += 1;
                if self.decision_level() == 0 {
                    let a = match confl {
                        Conflict::Clause(ci) => Ante::Clause(ci),
                        Conflict::Excl(x, y) => Ante::Excl(x, y),
                    };
                    self.final_conflict = Some(vec![a]);
                    self.ok = false;
                    return false;
                }
                let (learnt, bt, antes) = self.analyze(confl);
                if bt + 1 < self.decision_level() {
                    self.backjumps += 1;
                }
                self.backtrack(bt);
                let ci = self.spans.len() as u32;
                let s = self.lits.len() as u32;
                self.lits.extend_from_slice(&learnt);
                self.spans.push((s, learnt.len() as u32));
                if let Some(pr) = &mut self.proof {
                    pr.push(antes);
                }
                if learnt.len() >= 2 {
                    self.watches[learnt[0] as usize].push(ci);
                    self.watches[learnt[1] as usize].push(ci);
                }
                self.assign(learnt[0], Reason::Clause(ci));
                continue;
            }
            let dl = self.decision_level() as usize;
            if dl < assumptions.len() {
                let a = assumptions[dl];
                match self.lit_val(a) {
                    1 => self.trail_lim.push(self.trail.len() as u32),
                    -1 => {
                        self.final_conflict = Some(self.reason_ante(var(a)).into_iter().collect());
                        self.failed_assumption = Some(dl);
                        return false;
                    }
                    _ => {
                        self.trail_lim.push(self.trail.len() as u32);
                        self.assign(a, Reason::Decision);
                    }
                }
                continue;
            }
            match self.next_decision() {
                None => return true,
                Some(l) => {
                    self.decisions += 1;
                    self.trail_lim.push(self.trail.len() as u32);
                    self.assign(l, Reason::Decision);
                }
            }
        }
    }

    /// Variables true in the current assignment, in the order they were set.
    pub fn true_vars(&self) -> impl Iterator<Item = u32> + '_ {
        self.trail.iter().filter(|&&l| !is_neg(l)).map(|&l| var(l))
    }

    /// The premises of the last failure: the clauses and exclusions from which
    /// it follows, closed over learned clauses and the reasons of every
    /// falsified literal. Requires an engine created with proof tracking for
    /// learned clauses to be expanded.
    pub fn core(&self) -> Vec<Ante> {
        let mut out = std::collections::BTreeSet::new();
        let mut work: Vec<Ante> = self.final_conflict.clone().unwrap_or_default();
        let mut buf = Vec::new();
        let mut var_done = vec![false; self.val.len()];
        while let Some(a) = work.pop() {
            if !out.insert(a) {
                continue;
            }
            if let (Ante::Clause(ci), Some(pr)) = (a, &self.proof) {
                let np = self.p.clauses.len() as u32;
                if ci >= np {
                    work.extend(pr[(ci - np) as usize].iter().copied());
                }
            }
            self.clause_of(a, &mut buf);
            for &q in &buf {
                let v = var(q);
                if self.lit_val(q) == -1 && !var_done[v as usize] {
                    var_done[v as usize] = true;
                    if let Some(r) = self.reason_ante(v) {
                        work.push(r);
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    /// The assignment trail (literals in the order they were set), for explanations.
    pub fn trail(&self) -> &[Lit] {
        &self.trail
    }

    /// Why variable `v` has its value: the clause or exclusion that implied it
    /// (`None` for decisions, assumptions and unassigned variables).
    pub fn reason_of(&self, v: u32) -> Option<Ante> {
        if self.val[v as usize] == 0 {
            return None;
        }
        self.reason_ante(v)
    }

    /// The value of a literal: 1 true, -1 false, 0 unassigned.
    pub fn lit_value(&self, l: Lit) -> i8 {
        self.lit_val(l)
    }

    /// The premises that started the last failure (the conflict, or the reason an assumption is false).
    pub fn final_premises(&self) -> Vec<Ante> {
        self.final_conflict.clone().unwrap_or_default()
    }

    /// The literals of a premise (a clause or an exclusion).
    pub fn ante_lits(&self, a: Ante) -> Vec<Lit> {
        let mut b = Vec::new();
        self.clause_of(a, &mut b);
        b
    }

    /// The premises of a learned clause (empty without proof tracking or for problem clauses).
    pub fn learned_premises(&self, ci: u32) -> &[Ante] {
        let np = self.p.clauses.len() as u32;
        match &self.proof {
            Some(pr) if ci >= np => &pr[(ci - np) as usize],
            _ => &[],
        }
    }

    /// The literals of a clause id (problem or learned).
    pub fn clause_lits(&self, ci: u32) -> Vec<Lit> {
        let mut b = Vec::new();
        self.clause_of(Ante::Clause(ci), &mut b);
        b
    }

    /// The number of problem clauses (ids at or above it are learned).
    pub fn problem_clause_count(&self) -> u32 {
        self.p.clauses.len() as u32
    }

    /// The exclusion reason between two variables (for explanations).
    pub fn excl_origin(&self, a: u32, b: u32) -> Option<ExclOrigin> {
        self.p.excl_origin(a, b)
    }
}
