//! Tests of default-order paging with the cached ref order (`ref_order.rs`).

use serde_json::Value;

use super::super::predicate::Predicate;
use super::tests::{entity, index, names};
use super::{EntityIndex, Position};

/// Default-order pages (by ref) give the same entities before the cached ref order exists,
/// with it, and after a change clears it: a cursor chain both ways, and offsets.
#[test]
fn default_order_pages_agree_with_and_without_the_cached_ref_order() {
    let idx = index(47);
    let everything = Predicate::everything();
    let expected = |idx: &EntityIndex| -> Vec<String> {
        let all = idx.page(&everything, None, &[], &Position::Start, None);
        let mut refs: Vec<(String, String)> = names(&all)
            .into_iter()
            .zip(all.items.iter())
            .map(|(n, t)| {
                let kind = serde_json::from_str::<Value>(t).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_lowercase();
                (format!("{kind}:default/{n}"), n)
            })
            .collect();
        refs.sort();
        refs.into_iter().map(|(_, n)| n).collect()
    };
    let walk = |idx: &EntityIndex| -> Vec<String> {
        let (mut seen, mut pos, mut pages) = (Vec::new(), Position::Start, Vec::new());
        loop {
            let page = idx.page(&everything, None, &[], &pos, Some(10));
            pages.push(names(&page));
            seen.extend(names(&page));
            if pages.len() >= 2 {
                let back = idx.page(
                    &everything,
                    None,
                    &[],
                    &Position::Before(page.first.clone().unwrap()),
                    Some(10),
                );
                assert_eq!(names(&back), pages[pages.len() - 2]);
            }
            if !page.more {
                return seen;
            }
            pos = Position::After(page.last.clone().unwrap());
        }
    };
    // The first walk starts without the order (it is built after a miss), the second has it.
    for _ in 0..2 {
        let want = expected(&idx);
        assert_eq!(want.len(), 47);
        assert_eq!(walk(&idx), want);
        let off = idx.page(&everything, None, &[], &Position::Offset(40), Some(5));
        assert_eq!(names(&off), want[40..45]);
    }
    // Counts (`limit=0`) read no order, and say whether entities follow.
    for (pos, more) in [
        (Position::Start, true),
        (Position::Offset(46), true),
        (Position::Offset(47), false),
    ] {
        let count = idx.page(&everything, None, &[], &pos, Some(0));
        assert_eq!((count.total, count.more, count.items.len()), (47, more, 0));
    }
    // A change clears the order: the new entity is in its place, the removed one gone.
    idx.apply(
        vec![entity("API", "e0005", "openapi", &[])],
        &["uid-e001".to_owned()],
        None,
    );
    for _ in 0..2 {
        let want = expected(&idx);
        assert_eq!(want.len(), 47);
        assert!(want.contains(&"e0005".to_owned()) && !want.contains(&"e001".to_owned()));
        assert_eq!(walk(&idx), want);
    }
}
