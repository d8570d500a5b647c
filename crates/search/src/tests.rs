use super::*;
use chrono::TimeZone;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).unwrap()
}

fn doc(id: &str, source: &str, language: &str, headline: &str, body: &str, hour: u32) -> SearchDoc {
    SearchDoc {
        id: id.into(),
        source: source.into(),
        language: Some(language.into()),
        headline: headline.into(),
        body_text: body.into(),
        published: at(hour),
        sections: vec![format!("{source}-desk")],
    }
}

fn index() -> SearchIndex {
    let index = SearchIndex::in_memory().unwrap();
    for doc in [
        doc(
            "fire",
            "northwire",
            "en",
            "Harbour fire contained",
            "Firefighters contained the blaze at the harbour after six hours. Crews from three towns helped.",
            9,
        ),
        doc(
            "strike",
            "northwire",
            "en-GB",
            "Dock strike ends",
            "Dockworkers voted to end the strike; the harbour reopens on Monday.",
            10,
        ),
        doc(
            "cafe",
            "meridien",
            "fr",
            "Le café de la gare ferme",
            "Après quarante ans, le café de la gare ferme ses portes. <script>alert(1)</script> & fin.",
            11,
        ),
        doc(
            "ru",
            "baltic",
            "ru",
            "Пожар в порту потушен",
            "Пожарные потушили пожар в порту через шесть часов.",
            12,
        ),
        doc(
            "ar",
            "pacific",
            "ar",
            "انتهاء الإضراب في الميناء",
            "صوت عمال الميناء لإنهاء الإضراب.",
            13,
        ),
        doc(
            "el",
            "baltic",
            "el",
            "Φωτιά στο λιμάνι",
            "Οι πυροσβέστες έσβησαν τη φωτιά στο λιμάνι.",
            14,
        ),
        doc(
            "zh",
            "pacific",
            "zh",
            "港口罢工结束",
            "码头工人投票结束罢工，港口周一重新开放。",
            15,
        ),
        doc(
            "ja",
            "pacific",
            "ja",
            "港でストライキ終結",
            "港湾労働者はストライキの終結を決めた。東京の港は月曜日に再開する。",
            16,
        ),
        doc(
            "hi",
            "pacific",
            "hi",
            "बंदरगाह पर हड़ताल खत्म",
            "बंदरगाह के कर्मचारियों ने हड़ताल खत्म करने के लिए मतदान किया।",
            17,
        ),
    ] {
        index.upsert(&doc).unwrap();
    }
    index.commit().unwrap();
    index
}

fn ids(index: &SearchIndex, query: SearchQuery) -> Vec<String> {
    let mut found: Vec<String> = index
        .search(&SearchQuery {
            limit: 100,
            ..query
        })
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.id)
        .collect();
    found.sort();
    found
}

fn text(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        ..SearchQuery::default()
    }
}

#[test]
fn words_are_all_required_phrases_exact_or_either_minus_excludes() {
    let index = index();
    assert_eq!(ids(&index, text("harbour")), ["fire", "strike"]);
    assert_eq!(ids(&index, text("harbour strike")), ["strike"]);
    assert_eq!(ids(&index, text("\"harbour reopens\"")), ["strike"]);
    assert!(ids(&index, text("\"reopens harbour\"")).is_empty());
    assert_eq!(
        ids(&index, text("blaze OR dockworkers")),
        ["fire", "strike"]
    );
    assert_eq!(ids(&index, text("harbour -strike")), ["fire"]);
    assert_eq!(ids(&index, text("harbour -\"dock strike\"")), ["fire"]);
    assert_eq!(ids(&index, text("HARBOUR AND Fire")), ["fire"]);
}

#[test]
fn case_and_diacritics_are_folded_both_ways() {
    let index = index();
    assert_eq!(ids(&index, text("cafe")), ["cafe"]);
    assert_eq!(ids(&index, text("CAFÉ")), ["cafe"]);
    assert_eq!(ids(&index, text("apres")), ["cafe"]);
}

#[test]
fn every_script_is_found_including_unspaced_chinese_and_japanese() {
    let index = index();
    assert_eq!(ids(&index, text("пожар")), ["ru"]);
    assert_eq!(ids(&index, text("الإضراب")), ["ar"]);
    assert_eq!(ids(&index, text("λιμάνι")), ["el"]);
    assert_eq!(
        ids(&index, text("हड़ताल")),
        ["hi"],
        "marks stay with their letters"
    );
    // Two-character words inside unspaced sentences.
    assert_eq!(ids(&index, text("罢工")), ["zh"]);
    assert_eq!(ids(&index, text("码头")), ["zh"]);
    assert_eq!(ids(&index, text("東京")), ["ja"]);
    assert_eq!(ids(&index, text("ストライキ")), ["ja"]);
    assert!(ids(&index, text("京東")).is_empty(), "order matters");
}

#[test]
fn filters_narrow_by_source_language_and_time() {
    let index = index();
    let all = |query: SearchQuery| ids(&index, query);
    assert_eq!(
        all(SearchQuery {
            source: Some("northwire".into()),
            ..text("")
        }),
        ["fire", "strike"]
    );
    assert_eq!(
        all(SearchQuery {
            language: Some("EN".into()),
            ..text("harbour")
        }),
        ["fire", "strike"],
        "en-GB counts as en"
    );
    assert_eq!(
        all(SearchQuery {
            language: Some("fr".into()),
            ..text("")
        }),
        ["cafe"]
    );
    assert_eq!(
        all(SearchQuery {
            since: Some(at(10)),
            until: Some(at(11)),
            ..text("")
        }),
        ["cafe", "strike"]
    );
    assert_eq!(
        all(SearchQuery {
            source: Some("nobody".into()),
            ..text("harbour")
        }),
        Vec::<String>::new()
    );
}

#[test]
fn newest_first_or_best_match_first_with_pages() {
    let index = index();
    let newest = index
        .search(&SearchQuery {
            order: SortOrder::Newest,
            limit: 3,
            ..text("")
        })
        .unwrap();
    assert_eq!(newest.total, 9);
    let order: Vec<&str> = newest.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!(order, ["hi", "ja", "zh"]);
    let second = index
        .search(&SearchQuery {
            order: SortOrder::Newest,
            limit: 3,
            offset: 3,
            ..text("")
        })
        .unwrap();
    let order: Vec<&str> = second.hits.iter().map(|hit| hit.id.as_str()).collect();
    assert_eq!(order, ["el", "ar", "ru"]);
    // "strike" is in the headline of one story and only the body of none other in English; the
    // headline match outranks a body-only match of "harbour".
    let best = index
        .search(&SearchQuery {
            limit: 10,
            ..text("harbour")
        })
        .unwrap();
    assert_eq!(best.hits[0].id, "fire", "headline match first");
}

#[test]
fn snippets_escape_the_agency_text_and_mark_matches() {
    let index = index();
    let results = index
        .search(&SearchQuery {
            limit: 5,
            ..text("fin")
        })
        .unwrap();
    let hit = &results.hits[0];
    assert!(
        hit.snippet_html.contains("<b>fin</b>"),
        "{}",
        hit.snippet_html
    );
    assert!(
        hit.snippet_html.contains("&lt;script&gt;"),
        "{}",
        hit.snippet_html
    );
    assert!(!hit.snippet_html.contains("<script>"));
    assert!(hit.snippet_html.contains("&amp;"));
    let results = index
        .search(&SearchQuery {
            limit: 5,
            ..text("gare")
        })
        .unwrap();
    assert!(results.hits[0].headline_html.contains("<b>gare</b>"));
    // A match only in the headline still shows the start of the body.
    let results = index
        .search(&SearchQuery {
            limit: 5,
            ..text("contained")
        })
        .unwrap();
    assert!(results.hits[0].snippet_html.contains("Firefighters"));
}

#[test]
fn upsert_replaces_and_remove_hides_after_commit() {
    let index = index();
    index
        .upsert(&doc(
            "fire",
            "northwire",
            "en",
            "Harbour fire out",
            "The fire is out.",
            9,
        ))
        .unwrap();
    index.commit().unwrap();
    assert!(
        ids(&index, text("blaze")).is_empty(),
        "the old text is gone"
    );
    assert_eq!(ids(&index, text("out")), ["fire"]);
    assert_eq!(index.len(), 9);
    index.remove("fire").unwrap();
    index.commit().unwrap();
    assert!(ids(&index, text("fire")).is_empty());
    index.clear().unwrap();
    index.commit().unwrap();
    assert!(index.is_empty());
}

#[test]
fn the_index_persists_and_a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(dir.path()).unwrap();
        index
            .upsert(&doc("a", "wire", "en", "Kept on disk", "Body.", 9))
            .unwrap();
        index.commit_with_mark("2026-11-24T09:00:00Z").unwrap();
        assert!(matches!(
            SearchIndex::open(dir.path()),
            Err(SearchError::Busy)
        ));
        let reader = SearchIndex::open_read_only(dir.path()).unwrap();
        assert_eq!(ids(&reader, text("disk")), ["a"]);
        assert!(matches!(reader.remove("a"), Err(SearchError::Busy)));
    }
    let reopened = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(ids(&reopened, text("disk")), ["a"]);
    assert_eq!(reopened.mark().as_deref(), Some("2026-11-24T09:00:00Z"));
}

#[test]
fn odd_queries_never_fail() {
    let index = index();
    let long = "harbour ".repeat(700);
    for query in [
        "\"unbalanced",
        "OR",
        "-",
        "AND AND",
        "((",
        ")",
        "body:harbour",
        "id:fire",
        "source:x",
        "harbour^10",
        "[a TO z]",
        "*",
        "\\",
        "\"\"",
        "- -",
        "𝄞🇺🇦👩‍👩‍👧",
        long.as_str(),
    ] {
        let result = index.search(&SearchQuery {
            limit: 10,
            ..text(query)
        });
        assert!(result.is_ok(), "{query:?}: {result:?}");
    }
    // Field syntax is read as words, never as a way around the filters.
    assert!(
        ids(
            &index,
            SearchQuery {
                source: Some("meridien".into()),
                ..text("source:northwire harbour")
            }
        )
        .is_empty()
    );
}

proptest::proptest! {
    #[test]
    fn any_query_text_is_answered(query in "\\PC{0,80}") {
        let index = SearchIndex::in_memory().unwrap();
        index.upsert(&doc("a", "wire", "en", "Harbour", "Fire at the harbour.", 9)).unwrap();
        index.commit().unwrap();
        proptest::prop_assert!(index.search(&text(&query)).is_ok());
    }
}
