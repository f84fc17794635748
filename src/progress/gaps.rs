//! Ids the tailer has not seen below the highest id it read: as inclusive ranges, so a sequence
//! that jumped by a million costs one entry, not a million.
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Gaps {
    /// start -> end (inclusive), non-overlapping.
    ranges: BTreeMap<i64, i64>,
}

impl Gaps {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn first(&self) -> Option<i64> {
        self.ranges.keys().next().copied()
    }

    /// Adds `start..=end`; callers add ranges above every range already held.
    pub fn add(&mut self, start: i64, end: i64) {
        if start <= end {
            self.ranges.insert(start, end);
        }
    }

    /// A row with this id turned up: it is no longer missing.
    pub fn fill(&mut self, id: i64) {
        let Some((&start, &end)) = self.ranges.range(..=id).next_back() else {
            return;
        };
        if id > end {
            return;
        }
        self.ranges.remove(&start);
        self.add(start, id - 1);
        self.add(id + 1, end);
    }

    /// Forgets every missing id at or below `upto`; returns how many ids that was.
    pub(crate) fn forget_upto(&mut self, upto: i64) -> i64 {
        let mut forgotten = 0;
        while let Some((&start, &end)) = self.ranges.iter().next() {
            if start > upto {
                break;
            }
            self.ranges.remove(&start);
            let cut = end.min(upto);
            forgotten += cut - start + 1;
            self.add(cut + 1, end);
        }
        forgotten
    }

    /// The ranges that start after `after` and at or below `upto` (cut at `upto`), lowest
    /// first, at most `limit` of them.
    pub fn between(&self, after: i64, upto: i64, limit: usize) -> Vec<(i64, i64)> {
        self.ranges
            .range(after.saturating_add(1)..)
            .take_while(|(&start, _)| start <= upto)
            .take(limit)
            .map(|(&start, &end)| (start, end.min(upto)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Gaps;

    #[test]
    fn filling_an_id_splits_its_range() {
        let mut g = Gaps::default();
        g.add(3, 7);
        g.add(10, 10);
        g.fill(5);
        assert_eq!(g.between(0, i64::MAX, 10), vec![(3, 4), (6, 7), (10, 10)]);
        g.fill(3);
        g.fill(10);
        g.fill(8); // not missing: nothing changes
        assert_eq!(g.between(0, i64::MAX, 10), vec![(4, 4), (6, 7)]);
        assert_eq!(g.first(), Some(4));
    }

    #[test]
    fn forgetting_cuts_ranges_at_the_bound() {
        let mut g = Gaps::default();
        g.add(1, 2);
        g.add(5, 1_000_000);
        assert_eq!(g.forget_upto(9), 2 + 5);
        assert_eq!(g.between(0, 20, 10), vec![(10, 20)]);
        assert_eq!(g.forget_upto(i64::MAX), 1_000_000 - 9);
        assert!(g.is_empty());
    }
}
