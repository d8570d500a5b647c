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

#[test]
fn phrases_are_found_by_word_pairs_exactly() {
    let index = SearchIndex::in_memory().unwrap();
    let long = "x".repeat(101);
    for (id, body) in [
        (
            "adjacent",
            "The harbour reopens on Monday after the strike.",
        ),
        (
            "apart",
            "The harbour is calm; the market reopens on Monday.",
        ),
        ("reversed", "It reopens, the harbour, on Monday."),
        ("three", "Dockworkers say the harbour reopens soon."),
        ("long", &format!("strike {long} ends here")),
        ("other long", &format!("strike {long}y ends there")),
    ] {
        index
            .upsert(&doc(id, "wire", "en", "Port news", body, 9))
            .unwrap();
    }
    index.commit().unwrap();
    let total = |query: &str| index.search(&text(query)).unwrap().total;
    assert_eq!(
        ids(&index, text("\"harbour reopens\"")),
        ["adjacent", "three"]
    );
    assert_eq!(total("\"harbour reopens\""), 2);
    assert_eq!(
        ids(&index, text("\"the harbour reopens\"")),
        ["adjacent", "three"]
    );
    assert_eq!(
        ids(&index, text("\"say the harbour reopens soon\"")),
        ["three"]
    );
    assert!(ids(&index, text("\"harbour reopens after\"")).is_empty());
    assert_eq!(
        ids(&index, text("\"reopens on monday\"")),
        ["adjacent", "apart"]
    );
    // Punctuation is not a word, as before.
    assert_eq!(ids(&index, text("\"reopens the harbour\"")), ["reversed"]);
    assert!(ids(&index, text("\"harbour the reopens\"")).is_empty());
    // Words are still words: each anywhere, in any order.
    assert_eq!(
        ids(&index, text("reopens harbour")),
        ["adjacent", "apart", "reversed", "three"]
    );
    assert_eq!(
        ids(&index, text("harbour -\"harbour reopens\"")),
        ["apart", "reversed"]
    );
    assert_eq!(total("harbour -\"harbour reopens\""), 2);
    // One word in quotes is that word; an over-long word in a phrase stands for any word there,
    // as it always did (it is not indexed).
    assert_eq!(total("\"harbour\""), 4);
    assert_eq!(
        ids(&index, text(&format!("\"strike {long} ends\""))),
        ["long", "other long"]
    );
    // The phrase is marked as one run.
    let results = index
        .search(&SearchQuery {
            limit: 10,
            ..text("\"the harbour reopens\"")
        })
        .unwrap();
    for hit in &results.hits {
        assert!(
            hit.snippet_html.contains("<b>the harbour reopens</b>")
                || hit.snippet_html.contains("<b>The harbour reopens</b>"),
            "{}",
            hit.snippet_html
        );
    }
}

#[test]
fn a_phrase_does_not_run_from_the_headline_into_the_body() {
    let index = index();
    // Headline "Dock strike ends", body "Dockworkers voted…".
    assert!(ids(&index, text("\"ends dockworkers\"")).is_empty());
    assert_eq!(ids(&index, text("\"dock strike ends\"")), ["strike"]);
}

#[test]
fn total_counts_every_match_not_just_the_page() {
    let index = index();
    for order in [SortOrder::Relevance, SortOrder::Newest] {
        let results = index
            .search(&SearchQuery {
                limit: 1,
                order,
                ..text("harbour")
            })
            .unwrap();
        assert_eq!((results.total, results.hits.len()), (2, 1), "{order:?}");
        let results = index
            .search(&SearchQuery {
                limit: 1,
                offset: 5,
                order,
                ..text("\"dock strike\" OR пожар")
            })
            .unwrap();
        assert_eq!((results.total, results.hits.len()), (2, 0), "{order:?}");
    }
}

#[test]
fn the_pair_tokenizer_indexes_words_and_pairs_and_queries_pairs() {
    // Every word common: every adjacent pair is indexed, and a phrase is all pairs.
    let all = ["harbour", "cafe", "reopens", "a", "b", "c"];
    let tokens = |query: bool, input: &str| common_gram_tokens(&all, query, input);
    assert_eq!(
        tokens(false, "Harbour Café reopens"),
        [
            "harbour@0",
            "harbour_cafe@0",
            "cafe@1",
            "cafe_reopens@1",
            "reopens@2"
        ]
    );
    assert_eq!(
        tokens(true, "Harbour Café reopens"),
        ["harbour_cafe@0", "cafe_reopens@1"]
    );
    assert_eq!(tokens(true, "Harbour"), ["harbour@0"]);
    assert!(tokens(true, "").is_empty());
    let long = "x".repeat(101);
    assert_eq!(tokens(true, &format!("a {long} b c")), ["a@0", "b_c@2"]);
    assert_eq!(tokens(false, &format!("a {long} b")), ["a@0", "b@2"]);
}

/// The tokens of each of `inputs`, read one after another with one tokenizer (as an index
/// writer does).
fn tokens_read_in_turn(
    common: &[&str],
    query: bool,
    inputs: &[&str],
) -> Vec<Vec<tantivy::tokenizer::Token>> {
    use tantivy::tokenizer::{TokenStream, Tokenizer};
    let common = std::sync::Arc::new(CommonWords::from_words(common.iter().copied()));
    let mut tokenizer = PairTokenizer::new(words(), common, query);
    inputs
        .iter()
        .map(|input| {
            let mut stream = tokenizer.token_stream(input);
            let mut out = Vec::new();
            while stream.advance() {
                out.push(stream.token().clone());
            }
            out
        })
        .collect()
}

/// A token's text with pairs written `a_b`.
fn token_text(token: &tantivy::tokenizer::Token) -> String {
    token.text.replace(tokenizer::PAIR_SEPARATOR, "_")
}

/// The tokens of `input`, pairs written `a_b`, each with its position.
fn common_gram_tokens(common: &[&str], query: bool, input: &str) -> Vec<String> {
    tokens_read_in_turn(common, query, &[input])
        .concat()
        .iter()
        .map(|token| format!("{}@{}", token_text(token), token.position))
        .collect()
}

/// [`tokens_read_in_turn`], each token with its position, offsets and length.
fn tokens_of_each(common: &[&str], query: bool, inputs: &[&str]) -> Vec<Vec<String>> {
    tokens_read_in_turn(common, query, inputs)
        .iter()
        .map(|tokens| {
            tokens
                .iter()
                .map(|token| {
                    format!(
                        "{}@{}:{}-{}/{}",
                        token_text(token),
                        token.position,
                        token.offset_from,
                        token.offset_to,
                        token.position_length
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_tokenizer_reused_for_shorter_and_longer_texts_gives_each_its_own_tokens() {
    // The tokenizer keeps its token strings between texts: what a longer text left behind
    // must never show through in a shorter one, for indexing or for queries.
    let texts = [
        "The harbour of Piraeus reopens after the strike of the dockers",
        "of",
        "",
        "Café owners of the old town",
        "The harbour of Piraeus reopens after the strike of the dockers and the ferries of the islands",
        "x",
    ];
    for query in [false, true] {
        let together = tokens_of_each(&["the", "of"], query, &texts);
        let alone: Vec<Vec<String>> = texts
            .iter()
            .map(|text| tokens_of_each(&["the", "of"], query, &[text]).remove(0))
            .collect();
        assert_eq!(together, alone, "query: {query}");
    }
}

#[test]
fn pairs_are_indexed_only_where_a_word_is_common() {
    let tokens = |query: bool, input: &str| common_gram_tokens(&["the", "of"], query, input);
    // Indexing: every word; a pair only beside a common word.
    assert_eq!(
        tokens(false, "The harbour of Piraeus reopens"),
        [
            "the@0",
            "the_harbour@0",
            "harbour@1",
            "harbour_of@1",
            "of@2",
            "of_piraeus@2",
            "piraeus@3",
            "reopens@4"
        ]
    );
    assert_eq!(tokens(false, "harbour reopens"), ["harbour@0", "reopens@1"]);
    // Querying: pairs where a word is common, the words no pair covers, at their positions.
    assert_eq!(
        tokens(true, "The harbour of Piraeus reopens"),
        ["the_harbour@0", "harbour_of@1", "of_piraeus@2", "reopens@4"]
    );
    assert_eq!(tokens(true, "harbour reopens"), ["harbour@0", "reopens@1"]);
    assert_eq!(tokens(true, "the harbour"), ["the_harbour@0"]);
    // A word covered only as the second word of a pair leaves a gap: `reopens` is at 2.
    assert_eq!(
        tokens(true, "the harbour reopens"),
        ["the_harbour@0", "reopens@2"]
    );
    assert_eq!(
        tokens(true, "harbour reopens of"),
        ["harbour@0", "reopens_of@1"]
    );
    assert_eq!(tokens(true, "the of the"), ["the_of@0", "of_the@1"]);
    assert_eq!(tokens(true, "The"), ["the@0"]);
    // Common words are folded as words are, and an over-long word breaks a run.
    let long = "x".repeat(101);
    assert_eq!(
        common_gram_tokens(&["CAFÉ"], true, &format!("Café {long} café noir")),
        ["cafe@0", "cafe_noir@2"]
    );
    // No common words: words only, as without pairs.
    assert_eq!(
        common_gram_tokens(&[], false, "the harbour"),
        ["the@0", "harbour@1"]
    );
    assert_eq!(
        common_gram_tokens(&[], true, "the harbour"),
        ["the@0", "harbour@1"]
    );
}

#[test]
fn the_query_parser_searches_pairs_and_words_at_their_positions() {
    // "the harbour reopens" with `the` common is the pair `the␟harbour` at 0 and the word
    // `reopens` at 2: a phrase with a gap, which must not match `the harbour … reopens`.
    let index = SearchIndex::in_memory_with_common(CommonWords::from_words(["the"])).unwrap();
    for (id, body) in [
        ("exact", "Now the harbour reopens."),
        ("gap", "Now the harbour soon reopens."),
        ("shifted", "The harbour, harbour reopens."),
    ] {
        index
            .upsert(&doc(id, "wire", "en", "Port", body, 9))
            .unwrap();
    }
    index.commit().unwrap();
    let (parsed, _) = index.parser.parse_query_lenient("\"the harbour reopens\"");
    let mut terms = Vec::new();
    parsed.query_terms(&mut |term, positions| {
        if term.field() == index.fields.text {
            terms.push((
                term.value()
                    .as_str()
                    .unwrap_or_default()
                    .replace(tokenizer::PAIR_SEPARATOR, "_"),
                positions,
            ));
        }
    });
    terms.sort();
    assert_eq!(
        terms,
        [
            ("reopens".to_string(), true),
            ("the_harbour".to_string(), true)
        ]
    );
    assert_eq!(ids(&index, text("\"the harbour reopens\"")), ["exact"]);
    assert_eq!(
        ids(&index, text("\"harbour reopens\"")),
        ["exact", "shifted"]
    );
    let results = index
        .search(&SearchQuery {
            limit: 10,
            ..text("\"the harbour reopens\"")
        })
        .unwrap();
    assert_eq!(results.total, 1);
    assert!(
        results.hits[0]
            .snippet_html
            .contains("<b>the harbour reopens</b>"),
        "{}",
        results.hits[0].snippet_html
    );
}

#[test]
fn an_index_of_an_earlier_tokenizer_is_not_opened() {
    // `serve` moves an index it cannot open aside and rebuilds it. Without word pairs
    // (`verbatim_wire`) its phrases would find nothing; with every pair
    // (`verbatim_wire_pairs`) its common words are unknown (no `common-words.txt`).
    for tokenizer in ["verbatim_wire", "verbatim_wire_pairs"] {
        let dir = tempfile::tempdir().unwrap();
        let (old, _) = schema_with(tokenizer);
        tantivy::Index::create_in_dir(dir.path(), old).unwrap();
        assert!(
            matches!(SearchIndex::open(dir.path()), Err(SearchError::Open { .. })),
            "{tokenizer}"
        );
    }
    // Nor one that matched the headline and body fields themselves, with no `text` field.
    let dir = tempfile::tempdir().unwrap();
    let mut builder = Schema::builder();
    let indexed = TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(TOKENIZER))
        .set_stored();
    for name in ["id", "source", "language"] {
        builder.add_text_field(name, STRING | STORED);
    }
    builder.add_text_field("headline", indexed.clone());
    builder.add_text_field("body", indexed);
    tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
    assert!(matches!(
        SearchIndex::open(dir.path()),
        Err(SearchError::Open { .. })
    ));
}

#[test]
fn queries_of_words_only_run_as_a_words_query_and_the_rest_as_parsed() {
    let index = index();
    for (query, words) in [
        ("harbour", true),
        ("harbour fire", true),
        ("harbour -fire", true),
        ("harbour OR strike OR fire", true),
        ("harbour OR strike -fire", true),
        // `the` is common: the phrase is the one pair term `the␟harbour`.
        ("\"the harbour\" OR strike", true),
        ("\"the harbour\" fire", true),
        ("\"harbour fire contained\"", false),
        // No common word: the phrase is a phrase of two words.
        ("\"dock strike\" OR harbour", false),
        ("-harbour", false),
    ] {
        let (parsed, _) = index.parser.parse_query_lenient(query);
        assert_eq!(
            WordsQuery::from_parsed(&*parsed, Vec::new()).is_some(),
            words,
            "{query}"
        );
    }
}

/// A draw of stories over a 40-word vocabulary, skewed so that some words are in most
/// stories and some in few, in several segments, with replaced and removed stories (deletions).
fn skewed_index(seed: u64) -> SearchIndex {
    let index = SearchIndex::in_memory_with_common(CommonWords::none()).unwrap();
    let mut state = seed;
    let mut next = move |bound: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    let word = |next: &mut dyn FnMut(u64) -> u64| {
        // Rank r with probability about 1/r: w0 is in nearly every story, w39 in few.
        let rank = next(1000) * next(1000) / 1000 * 40 / 1000;
        format!("w{}", 39 - rank.min(39))
    };
    // The first segment spans several term-at-a-time windows (`words_query::WINDOW`); the later
    // rounds replace some of its stories.
    for round in 0..4u64 {
        let stories = if round == 0 { 9_000 } else { 400 };
        for number in 0..stories {
            let id = format!("s{}", (round * 977 + number * 13) % 9_000);
            let headline = (0..3)
                .map(|_| word(&mut next))
                .collect::<Vec<_>>()
                .join(" ");
            let length = 5 + next(40);
            let body = (0..length)
                .map(|_| word(&mut next))
                .collect::<Vec<_>>()
                .join(" ");
            let source = if next(3) == 0 { "andes" } else { "baltic" };
            let hour = next(20) as u32;
            index
                .upsert(&doc(&id, source, "en", &headline, &body, hour))
                .unwrap();
        }
        if round == 3 {
            for number in 0..50 {
                index.remove(&format!("s{}", number * 7)).unwrap();
            }
        }
        index.commit().unwrap();
    }
    index
}

#[test]
fn a_words_query_pages_and_counts_as_tantivys_boolean_query() {
    // The words query skips blocks that cannot reach the page and counts on bitmaps; tantivy's
    // boolean query (filters scoring nothing) visits every match. Same counts, same page.
    let shapes = [
        "{a}",
        "{a} {b}",
        "{a} {b} {c}",
        "{a} OR {b}",
        "{a} OR {b} OR {c}",
        "{a} -{b}",
        "{a} {b} -{c}",
        "{a} OR {b} -{c}",
        "{a} {a}",
        "{a} {b} {a}",
        "{a} OR {a} OR {b}",
        "{a} -{b} -{b}",
    ];
    for seed in [1, 2] {
        let index = skewed_index(seed);
        let searcher = index.reader.searcher();
        assert!(searcher.segment_readers().len() > 1);
        assert!(
            searcher
                .segment_readers()
                .iter()
                .any(|segment| segment.alive_bitset().is_some()),
            "deletions are tested"
        );
        let (mut checked, mut dense, mut sparse) = (0, 0, 0);
        let pool = tantivy::Executor::multi_thread(2, "test-search-").unwrap();
        for (number, shape) in shapes.iter().cycle().take(400).enumerate() {
            let pick = |offset: usize| format!("w{}", (number * 7 + offset * 13) % 40);
            let query = shape
                .replace("{a}", &pick(0))
                .replace("{b}", &pick(1))
                .replace("{c}", &pick(2));
            let mut filters: Vec<Box<dyn Query>> = Vec::new();
            if number % 3 == 1 {
                filters.push(Box::new(TermQuery::new(
                    Term::from_field_text(index.fields.source, "andes"),
                    IndexRecordOption::Basic,
                )));
            }
            if number % 4 == 2 {
                filters.push(Box::new(RangeQuery::new(
                    std::ops::Bound::Included(Term::from_field_date(
                        index.fields.published,
                        to_tantivy_time(at(5)),
                    )),
                    std::ops::Bound::Unbounded,
                )));
            }
            let (parsed, _) = index.parser.parse_query_lenient(&query);
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = filters
                .iter()
                .map(|filter| -> (Occur, Box<dyn Query>) {
                    (
                        Occur::Must,
                        Box::new(tantivy::query::ConstScoreQuery::new(
                            filter.box_clone(),
                            0.0,
                        )),
                    )
                })
                .collect();
            clauses.push((Occur::Must, parsed.box_clone()));
            let expected = BooleanQuery::new(clauses);
            let words = WordsQuery::from_parsed(&*parsed, filters).unwrap();
            let total = searcher.search(&expected, &Count).unwrap();
            assert_eq!(words.count(&searcher).unwrap(), total, "{query}");
            let top = TopDocs::with_limit(10);
            let scores = |found: Vec<(f32, tantivy::DocAddress)>| -> Vec<f32> {
                found.into_iter().map(|(score, _)| score).collect()
            };
            let (found, wanted) = (
                scores(searcher.search(&words, &top).unwrap()),
                scores(searcher.search(&expected, &top).unwrap()),
            );
            let same = |found: &[f32], wanted: &[f32]| {
                found.len() == wanted.len()
                    && found
                        .iter()
                        .zip(wanted)
                        .all(|(score, wanted)| (score - wanted).abs() < 1e-4)
            };
            assert!(same(&found, &wanted), "{query}: {found:?} {wanted:?}");
            // The term-at-a-time collector, by relevance and by date, from 0 or 5 on, on the
            // calling thread or on two.
            let threads = (number / shapes.len()).is_multiple_of(2).then_some(&pool);
            let (best, counted) = words
                .best_and_count(
                    &searcher,
                    threads,
                    Ranking::Relevance,
                    10,
                    &index.date_windows,
                )
                .unwrap();
            assert_eq!(counted, total, "{query}");
            let best = scores(best);
            assert!(same(&best, &wanted), "{query}: {best:?} {wanted:?}");
            let newest = TopDocs::with_limit(5)
                .and_offset(5)
                .order_by_fast_field::<tantivy::DateTime>("published", Order::Desc);
            let date_of = |address: tantivy::DocAddress| {
                let stored: TantivyDocument = searcher.doc(address).unwrap();
                stored
                    .get_first(index.fields.published)
                    .and_then(|value| value.as_datetime())
                    .unwrap()
            };
            let wanted: Vec<_> = searcher
                .search(&expected, &newest)
                .unwrap()
                .into_iter()
                .map(|(_, address)| date_of(address))
                .collect();
            let (best, counted) = words
                .best_and_count(&searcher, threads, Ranking::Newest, 10, &index.date_windows)
                .unwrap();
            assert_eq!(counted, total, "{query}");
            let found: Vec<_> = best
                .into_iter()
                .skip(5)
                .map(|(_, address)| date_of(address))
                .collect();
            assert_eq!(found, wanted, "{query}");
            for segment in searcher.segment_readers() {
                if words.dense_is_cheaper(segment).unwrap() {
                    dense += 1;
                } else {
                    sparse += 1;
                }
            }
            if total > 0 {
                checked += 1;
            }
        }
        assert!(checked > 200, "{checked} queries matched something");
        assert!(
            dense > 100 && sparse > 100,
            "{dense} dense, {sparse} sparse"
        );
    }
}

#[test]
fn a_word_in_the_headline_matches_once_and_weighs_twice() {
    // The headline is indexed twice in `text`: still one match and one count, a phrase does
    // not run from one copy into the next, and a headline word outweighs the same word once
    // in a body of the same length.
    let index = SearchIndex::in_memory().unwrap();
    index
        .upsert(&doc(
            "head",
            "wire",
            "en",
            "Quay closed",
            "Boats wait offshore today.",
            9,
        ))
        .unwrap();
    index
        .upsert(&doc(
            "body",
            "wire",
            "en",
            "Boats wait",
            "The quay closed today offshore.",
            9,
        ))
        .unwrap();
    index.commit().unwrap();
    let found = index
        .search(&SearchQuery {
            limit: 10,
            ..text("quay")
        })
        .unwrap();
    assert_eq!(found.total, 2);
    assert_eq!(found.hits[0].id, "head");
    assert!(found.hits[0].score > found.hits[1].score);
    assert_eq!(found.hits[0].headline_html, "<b>Quay</b> closed");
    assert!(ids(&index, text("\"closed quay\"")).is_empty());
}

#[test]
fn after_merges_finish_the_index_searches_and_writes_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    for number in 0..3 {
        index
            .upsert(&doc(
                &format!("s{number}"),
                "wire",
                "en",
                "Harbour",
                "Fire.",
                9,
            ))
            .unwrap();
        index.commit().unwrap();
    }
    index.finish_merges().unwrap();
    assert!(index.segments() >= 1);
    assert_eq!(index.search(&text("harbour")).unwrap().total, 3);
    index.remove("s0").unwrap();
    index.commit().unwrap();
    assert_eq!(index.search(&text("harbour")).unwrap().total, 2);
    let reader = SearchIndex::open_read_only(dir.path()).unwrap();
    assert!(matches!(reader.finish_merges(), Err(SearchError::Busy)));
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

#[test]
fn the_common_words_are_stored_with_the_index_and_its_own_set_wins() {
    let dir = tempfile::tempdir().unwrap();
    let learned = CommonWords::from_words(["harbour", "of"]);
    {
        let index = SearchIndex::create_with_common(dir.path(), learned.clone()).unwrap();
        assert_eq!(index.common_words(), &learned);
        index
            .upsert(&doc(
                "a",
                "wire",
                "en",
                "Port",
                "The harbour of Piraeus.",
                9,
            ))
            .unwrap();
        index.commit().unwrap();
    }
    let stored = std::fs::read_to_string(dir.path().join(COMMON_WORDS_FILE)).unwrap();
    let stored_words: Vec<&str> = stored
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect();
    assert_eq!(stored_words, ["harbour", "of"]);
    // Reopened (for writing, for reading, or "created" with another set): its own set.
    let check = |index: SearchIndex| {
        assert_eq!(index.common_words(), &learned);
        assert_eq!(
            ids(&index, text("\"harbour of piraeus\"")),
            ["a"],
            "{:?}",
            index.common_words()
        );
        let reader = SearchIndex::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.common_words(), &learned);
        assert_eq!(ids(&reader, text("\"the harbour\"")), ["a"]);
    };
    check(SearchIndex::open(dir.path()).unwrap());
    check(SearchIndex::create_with_common(dir.path(), CommonWords::default()).unwrap());
    // A new index without a given set gets the built-in one.
    let fresh = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(fresh.path()).unwrap();
    assert_eq!(index.common_words(), &CommonWords::default());
}

#[test]
fn an_index_whose_common_words_are_missing_is_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    drop(SearchIndex::open(dir.path()).unwrap());
    let file = dir.path().join(COMMON_WORDS_FILE);
    std::fs::remove_file(&file).unwrap();
    match SearchIndex::open(dir.path()) {
        Err(SearchError::Open { reason, .. }) => {
            assert!(reason.contains(&file.display().to_string()), "{reason}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn the_built_in_common_words_are_folded_function_words_of_several_languages() {
    let built_in = CommonWords::default();
    assert!((250..=500).contains(&built_in.len()), "{}", built_in.len());
    for word in [
        "the", "of", "de", "la", "der", "und", "el", "y", "em", "nao", "di", "il", "het", "van",
        "fur", "apres", "mas", "said",
    ] {
        assert!(built_in.contains(word), "{word}");
    }
    // Written as the index folds words: every line is one folded word.
    let file = include_str!("common-words.txt");
    for line in file.lines().filter(|line| !line.starts_with('#')) {
        assert_eq!(
            CommonWords::from_words([line]).iter().collect::<Vec<_>>(),
            [line],
            "{line:?}"
        );
    }
}

#[test]
fn common_words_are_learned_from_the_documents_they_are_in_most() {
    // `the` in every story, `harbour` in one in ten, `quay` in one in a hundred, and a word of
    // each story's own: enough stories for rare words to be forgotten as learning goes.
    let docs: Vec<SearchDoc> = (0..3_000)
        .map(|number| {
            let mut body = format!("The word{number} THE");
            if number % 10 == 0 {
                body.push_str(" harbour");
            }
            if number % 100 == 0 {
                body.push_str(" quay");
            }
            doc(&format!("s{number}"), "wire", "en", "", &body, 9)
        })
        .collect();
    let mut learner = CommonWordsLearner::new(0.05, 10);
    for doc in &docs {
        learner.add(doc);
    }
    // Pruned at the 3,000th story: only the words that may still count are tracked.
    assert_eq!(learner.tracked(), 3);
    assert_eq!(learner.documents(), 3_000);
    let learned = learner.finish();
    assert_eq!(learned.iter().collect::<Vec<_>>(), ["harbour", "the"]);
    // At most so many, the most frequent first.
    let mut learner = CommonWordsLearner::new(0.0, 1);
    docs.iter().for_each(|doc| learner.add(doc));
    assert_eq!(learner.finish().iter().collect::<Vec<_>>(), ["the"]);
    // The public way adds the built-in set.
    let learned = CommonWords::learn(&docs);
    assert!(learned.contains("the") && learned.contains("harbour") && learned.contains("und"));
    assert!(!learned.contains("quay"));
    assert_eq!(
        CommonWords::learn(std::iter::empty::<SearchDoc>()),
        CommonWords::default()
    );
    // Too few stories to learn from: the built-in set only.
    assert_eq!(CommonWords::learn(&docs[..999]), CommonWords::default());
}

/// A word of a generated story: one of a tiny vocabulary, or an over-long word (never indexed,
/// but it keeps its position).
const VOCABULARY: &[&str] = &["a", "b", "c", "d", "É"];

fn rendered(words: &[usize], long: &str) -> String {
    words
        .iter()
        .enumerate()
        .map(|(index, &word)| {
            let text = VOCABULARY.get(word).copied().unwrap_or(long);
            // Punctuation between words is not a word and breaks no phrase.
            if index % 3 == 2 {
                format!("{text},")
            } else {
                text.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the words `phrase` occur adjacent, in this order, in `words`.
fn occurs(words: &[usize], phrase: &[usize]) -> bool {
    words.windows(phrase.len()).any(|window| window == phrase)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]
    #[test]
    fn a_phrase_matches_exactly_where_its_words_are_adjacent(
        common in proptest::collection::vec(proptest::bool::ANY, VOCABULARY.len()),
        stories in proptest::collection::vec(
            (
                proptest::collection::vec(0..=VOCABULARY.len(), 0..4),
                proptest::collection::vec(0..=VOCABULARY.len(), 0..14),
            ),
            1..8,
        ),
    ) {
        let long = "x".repeat(101);
        let common_words = CommonWords::from_words(
            VOCABULARY
                .iter()
                .zip(&common)
                .filter(|(_, common)| **common)
                .map(|(word, _)| *word),
        );
        let index = SearchIndex::in_memory_with_common(common_words).unwrap();
        for (number, (headline, body)) in stories.iter().enumerate() {
            index
                .upsert(&doc(
                    &format!("s{number}"),
                    "wire",
                    "en",
                    &rendered(headline, &long),
                    &rendered(body, &long),
                    9,
                ))
                .unwrap();
        }
        index.commit().unwrap();
        let words = VOCABULARY.len();
        let mut phrases: Vec<Vec<usize>> = Vec::new();
        for first in 0..words {
            for second in 0..words {
                phrases.push(vec![first, second]);
                for third in 0..words {
                    phrases.push(vec![first, second, third]);
                }
            }
        }
        for phrase in phrases {
            let query = format!(
                "\"{}\"",
                phrase.iter().map(|&word| VOCABULARY[word].to_lowercase()).collect::<Vec<_>>().join(" ")
            );
            let expected: Vec<String> = stories
                .iter()
                .enumerate()
                .filter(|(_, (headline, body))| occurs(headline, &phrase) || occurs(body, &phrase))
                .map(|(number, _)| format!("s{number}"))
                .collect();
            let mut expected = expected;
            expected.sort();
            let results = index.search(&SearchQuery { limit: 100, ..text(&query) }).unwrap();
            let mut found: Vec<String> = results.hits.into_iter().map(|hit| hit.id).collect();
            found.sort();
            proptest::prop_assert_eq!(&found, &expected, "{}", query);
            proptest::prop_assert_eq!(results.total, expected.len(), "{}", query);
        }
    }
}

#[test]
fn a_newest_first_page_of_common_words_reads_the_latest_windows_first() {
    // Stories published in the order they are indexed, as a wire arrives: the latest window
    // of the segment comes first, and the page is the last stories of the matching ones.
    let index = SearchIndex::in_memory_with_common(CommonWords::none()).unwrap();
    let stories = words_query::WINDOW * 2 + 1_000;
    let first = at(0);
    for number in 0..stories {
        let mut story = doc(
            &format!("s{number}"),
            if number % 2 == 0 { "andes" } else { "baltic" },
            "en",
            "harbour report",
            if number % 3 == 0 {
                "fire at the harbour"
            } else {
                "calm at the harbour"
            },
            0,
        );
        story.published = first + chrono::Duration::seconds(number as i64);
        index.upsert(&story).unwrap();
    }
    index.commit().unwrap();
    // One segment, in the order indexed.
    let segments = index.index.searchable_segment_ids().unwrap();
    index
        .with_writer(|writer| Ok(writer.merge(&segments).wait()?))
        .unwrap();
    index.reader.reload().unwrap();
    let searcher = index.reader.searcher();
    let segment = &searcher.segment_readers()[0];
    assert_eq!(segment.max_doc() as usize, stories);
    // (A merge may put the segments it joins in any order, so the windows' latest dates are
    // distinct but not necessarily increasing.)
    let windows = words_query::DateWindows::of(segment).unwrap();
    let mut order = windows.order.clone();
    order.sort_unstable();
    assert_eq!(order, vec![0, 1, 2]);
    let latest: Vec<i64> = windows
        .order
        .iter()
        .map(|&window| windows.latest[window as usize])
        .collect();
    assert!(latest[0] > latest[1] && latest[1] > latest[2], "{latest:?}");
    let results = index
        .search(&SearchQuery {
            text: "harbour fire -calm".into(),
            source: Some("andes".into()),
            order: SortOrder::Newest,
            limit: 5,
            ..SearchQuery::default()
        })
        .unwrap();
    // Every sixth story is from andes and about a fire.
    assert_eq!(results.total, stories.div_ceil(6));
    let last = (0..stories).rev().filter(|number| number % 6 == 0);
    let wanted: Vec<String> = last.take(5).map(|number| format!("s{number}")).collect();
    let found: Vec<String> = results.hits.iter().map(|hit| hit.id.clone()).collect();
    assert_eq!(found, wanted);
    let words = WordsQuery::from_parsed(
        &*index.parser.parse_query_lenient("harbour fire").0,
        Vec::new(),
    )
    .unwrap();
    assert!(words.dense_is_cheaper(segment).unwrap());
}

#[test]
fn a_page_read_on_threads_is_the_page_read_in_order() {
    // From 500,000 stories a page's hits are read and marked on the search threads; they
    // come back in the page's order, with the same marks as on the calling thread.
    let index = skewed_index(3);
    let searcher = index.reader.searcher();
    let pool = tantivy::Executor::multi_thread(2, "test-hits-").unwrap();
    let (parsed, _) = index.parser.parse_query_lenient("w3 w7");
    let words = WordsQuery::from_parsed(&*parsed, Vec::new()).unwrap();
    let (page, total) = words
        .best_and_count(&searcher, None, Ranking::Relevance, 20, &index.date_windows)
        .unwrap();
    assert_eq!(page.len(), 20);
    let on_caller = index
        .results(&searcher, &*parsed, page.clone(), total, None)
        .unwrap();
    let on_threads = index
        .results(&searcher, &*parsed, page.clone(), total, Some(&pool))
        .unwrap();
    let shown = |results: &SearchResults| -> Vec<(String, String, String)> {
        results
            .hits
            .iter()
            .map(|hit| {
                (
                    hit.id.clone(),
                    hit.headline_html.clone(),
                    hit.snippet_html.clone(),
                )
            })
            .collect()
    };
    assert_eq!(shown(&on_threads), shown(&on_caller));
    assert!(
        on_caller
            .hits
            .iter()
            .any(|hit| hit.snippet_html.contains("<b>"))
    );
    let scores: Vec<f32> = on_threads.hits.iter().map(|hit| hit.score).collect();
    let wanted: Vec<f32> = page.iter().map(|(score, _)| *score).collect();
    assert_eq!(scores, wanted);
}

#[test]
fn the_indexing_threads_fit_the_writers_memory_on_any_machine() {
    let most = (1..=1024).map(indexing_threads_for).max().unwrap_or(0);
    assert_eq!(indexing_threads_for(1), 1);
    assert_eq!(indexing_threads_for(2), 1);
    assert_eq!(indexing_threads_for(4), 2);
    assert_eq!(most, 3, "50 MB for at least 15 MB a thread");
    let (schema, _) = schema();
    let index = Index::create_in_ram(schema);
    for threads in 1..=most {
        let writer = index.writer_with_num_threads::<TantivyDocument>(threads, WRITER_MEMORY);
        assert!(writer.is_ok(), "{threads} threads: {:?}", writer.err());
    }
}
