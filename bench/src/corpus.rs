//! Deterministic generated text with the statistics of news copy: words drawn Zipf-like from a
//! 50,000-word vocabulary (a few words everywhere, most words rare) that includes accented,
//! Cyrillic, Arabic and CJK words. Shared by the `search` and `ingest` benchmarks.

/// Deterministic pseudo-random numbers (xorshift), so every run indexes the same stories.
pub struct Rng(pub u64);

impl Rng {
    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.draw() % words.len() as u64) as usize]
    }
}

pub const WORDS: &[&str] = &[
    "harbour",
    "fire",
    "strike",
    "minister",
    "election",
    "budget",
    "flood",
    "storm",
    "rescue",
    "court",
    "verdict",
    "market",
    "shares",
    "inflation",
    "bank",
    "rate",
    "police",
    "border",
    "talks",
    "ceasefire",
    "vaccine",
    "hospital",
    "school",
    "teachers",
    "farmers",
    "drought",
    "earthquake",
    "coast",
    "ferry",
    "airport",
    "pilots",
    "union",
    "wages",
    "energy",
    "gas",
    "pipeline",
    "river",
    "bridge",
    "railway",
    "tunnel",
    "mayor",
    "council",
    "protest",
    "capital",
    "north",
    "south",
    "east",
    "west",
    "government",
    "parliament",
    "vote",
    "summit",
    "leaders",
    "trade",
    "exports",
    "imports",
    "grain",
    "oil",
    "prices",
    "record",
    "crowd",
    "stadium",
    "final",
    "champions",
    "coach",
    "season",
    "injury",
    "transfer",
    "festival",
    "museum",
    "exhibition",
    "café",
    "señal",
    "müller",
    "zürich",
    "пожар",
    "выборы",
    "الميناء",
    "罢工",
    "港口",
    "東京",
];

/// Distinct words in the generated corpus besides `WORDS`: news text follows Zipf's law, a few
/// words everywhere and most words rare, so a word's rank is drawn log-uniformly.
pub const VOCABULARY: u64 = 50_000;
pub const SYLLABLES: &[&str] = &[
    "ka", "lo", "ri", "ten", "mar", "vo", "sen", "da", "pel", "un", "gor", "bi", "fe", "ta", "mon",
    "ar", "sk", "el", "nu", "zo",
];

/// The word of a rank: the first ranks are the real words, then pseudo-words of syllables.
pub fn word_of(rank: u64) -> String {
    if let Some(word) = WORDS.get(rank as usize) {
        return (*word).to_string();
    }
    let mut rank = rank;
    let mut word = String::new();
    loop {
        word.push_str(SYLLABLES[(rank % SYLLABLES.len() as u64) as usize]);
        rank /= SYLLABLES.len() as u64;
        if rank == 0 {
            break;
        }
    }
    word
}

pub fn zipf_rank(rng: &mut Rng) -> u64 {
    let uniform = (rng.draw() % 1_000_000) as f64 / 1_000_000.0;
    ((VOCABULARY as f64).powf(uniform) as u64).saturating_sub(1)
}

pub fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut text = String::new();
    for index in 0..words {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(&word_of(zipf_rank(rng)));
    }
    text
}
