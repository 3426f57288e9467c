//! The incident's text (Markdown: paragraphs, headings, lists, quotes, fenced code, bold, italic,
//! strike-through, inline code, links) and Jira's wiki markup, converted both ways.
//!
//! The conversions are built so that a round trip never grows a text: `from_wiki(to_wiki(x))` is
//! `x` in a canonical spelling (`*` bullets become `-`, `*italic*` becomes `_italic_`, ordered
//! items are numbered `1.`), and converting that again changes nothing. Every character Jira's
//! renderer would read as markup is escaped with a backslash, so plain text stays plain both ways.
//! Wiki markup with no Markdown spelling (`+underline+`, tables, colours …) reads back as its text.

/// The marker of the part of a ticket's description FireFighter adds below the incident's text
/// (the critical-incident lines, the additional information): never mirrored back.
const FOOTER_RULE: &str = "\n----\n";
const FOOTER_STARTS: [&str; 2] = ["🧯 This incident has been created", "*Additional Information*"];

/// A ticket's description: the incident's text, and below it FireFighter's footer (if any).
#[must_use]
pub fn description(body: &str, footer: &str) -> String {
    if footer.trim().is_empty() { body.to_owned() } else { format!("{body}\n{FOOTER_RULE}{}", footer.trim()) }
}

/// How tickets made before the footer had its rule end their text (the original's layout).
const LEGACY_FOOTERS: [&str; 2] =
    ["\n\n🧯 This incident has been created for a critical incident.", "\n *Additional Information* \n"];

/// Splits a ticket's description into the mirrored text and FireFighter's footer (also the footer
/// of tickets made before it had its rule).
#[must_use]
pub fn split_footer(text: &str) -> (&str, &str) {
    let text = text.trim_end();
    let mut from = text.len();
    while let Some(at) = text[..from].rfind(FOOTER_RULE) {
        let rest = &text[at + FOOTER_RULE.len()..];
        if FOOTER_STARTS.iter().any(|start| rest.trim_start().starts_with(start)) {
            return (text[..at].trim_end(), rest);
        }
        from = at;
    }
    if let Some(at) = LEGACY_FOOTERS.iter().filter_map(|footer| text.find(footer)).min() {
        return (text[..at].trim_end(), text[at..].trim());
    }
    (text, "")
}

/// The lines that open or close a code block, paired: an opener without its closer is text.
fn fences(lines: &[&str], is_fence: impl Fn(&str, bool) -> bool) -> Vec<bool> {
    let mut marks = vec![false; lines.len()];
    let mut open: Option<usize> = None;
    for (index, line) in lines.iter().enumerate() {
        match open {
            None if is_fence(line.trim_end(), false) => open = Some(index),
            Some(start) if is_fence(line.trim_end(), true) => {
                marks[start] = true;
                marks[index] = true;
                open = None;
            }
            _ => {}
        }
    }
    marks
}

fn markdown_fence(line: &str, closing: bool) -> bool {
    line.strip_prefix("```").is_some_and(|language| {
        let language = language.trim();
        language.is_empty() || (!closing && language.chars().all(char::is_alphanumeric))
    })
}

fn wiki_fence(line: &str, closing: bool) -> bool {
    line == "{code}"
        || line == "{noformat}"
        || (!closing
            && line
                .strip_prefix("{code:")
                .and_then(|l| l.strip_suffix('}'))
                .is_some_and(|l| !l.is_empty() && l.chars().all(char::is_alphanumeric)))
}

/// Markdown → Jira wiki markup.
#[must_use]
pub fn to_wiki(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.lines().collect();
    let marks = fences(&lines, markdown_fence);
    let mut out = Vec::new();
    let mut code = false;
    for (line, fence) in lines.iter().zip(marks) {
        if fence {
            let language = line.trim_end().trim_start_matches('`').trim();
            out.push(if code || language.is_empty() {
                "{code}".to_owned()
            } else {
                format!("{{code:{language}}}")
            });
            code = !code;
        } else if code {
            out.push((*line).to_owned());
        } else {
            out.push(block_to_wiki(line.trim_end()));
        }
    }
    out.join("\n").trim().to_owned()
}

fn block_to_wiki(line: &str) -> String {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let depth = indent / 2 + 1;
    let hashes = rest.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&hashes) && rest[hashes..].starts_with(' ') {
        return format!("h{hashes}. {}", inline_to_wiki(rest[hashes..].trim_start()));
    }
    if matches!(rest, "---" | "***" | "___") {
        return "----".to_owned();
    }
    for marker in ["- ", "* ", "+ "] {
        if let Some(item) = rest.strip_prefix(marker) {
            return format!("{} {}", "*".repeat(depth), inline_to_wiki(item.trim_start()));
        }
    }
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && rest[digits..].starts_with(". ") {
        return format!("{} {}", "#".repeat(depth), inline_to_wiki(rest[digits + 2..].trim_start()));
    }
    if let Some(quoted) = rest.strip_prefix('>') {
        return format!("bq. {}", inline_to_wiki(quoted.trim_start()));
    }
    let text = inline_to_wiki(line.trim_start());
    // A paragraph that would read as a heading or a quote in Jira gets its dot escaped (the other
    // block markers are escaped characters already).
    let heading = text.starts_with('h')
        && text[1..].starts_with(|c: char| ('1'..='6').contains(&c))
        && (text[2..].starts_with(". ") || &text[2..] == ".");
    if heading {
        return format!("{}\\{}", &text[..2], &text[2..]);
    }
    if text.starts_with("bq. ") || text == "bq." {
        return format!("bq\\{}", &text[2..]);
    }
    text
}

const ALWAYS_ESCAPED: &[char] = &['\\', '*', '_', '{', '}', '[', ']', '|', '^', '~', '#'];

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// Whether a span's delimiter next to `c` would not open or close: a letter or digit, or another
/// delimiter (runs of delimiters are read as text both ways, which keeps conversions unambiguous).
fn sticky(c: Option<char>) -> bool {
    is_word(c) || matches!(c, Some('*' | '_' | '-' | '~'))
}

/// A character of inline text and whether it was escaped (so stands for itself, never markup).
type Token = (char, bool);

/// Inline text as tokens: a backslash escapes the next character when `escapable` says so.
fn tokens(text: &str, escapable: impl Fn(char) -> bool) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1).is_some_and(|c| escapable(*c)) {
            out.push((chars[i + 1], true));
            i += 2;
        } else {
            out.push((chars[i], false));
            i += 1;
        }
    }
    out
}

fn free(tokens: &[Token], k: usize, c: char) -> bool {
    tokens.get(k).is_some_and(|t| *t == (c, false))
}

fn char_at(tokens: &[Token], k: Option<usize>) -> Option<char> {
    k.and_then(|k| tokens.get(k)).map(|t| t.0)
}

/// The closing delimiter of a span opened just before `start`, on this line: its index. The span
/// must not be empty nor begin or end with a space, and the closer must not be followed by a
/// letter or digit; escaped characters never delimit.
fn closing(tokens: &[Token], start: usize, delimiter: &[char], wiki: bool) -> Option<usize> {
    if tokens.get(start).is_none_or(|t| t.0.is_whitespace()) {
        return None;
    }
    let mut i = start;
    while i + delimiter.len() <= tokens.len() {
        // A code span is opaque: no delimiter inside it closes anything.
        if let Some(after) = code_span_end(tokens, i, wiki) {
            i = after;
            continue;
        }
        if i > start
            && delimiter.iter().enumerate().all(|(d, c)| free(tokens, i + d, *c))
            && !tokens[i - 1].0.is_whitespace()
            && !sticky(char_at(tokens, Some(i + delimiter.len())))
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Where a code span starting at `i` (wiki's `{{x}}`, or Markdown's `` `x` ``) ends, if one does.
fn code_span_end(tokens: &[Token], i: usize, wiki: bool) -> Option<usize> {
    if !wiki && free(tokens, i, '`') {
        return (i + 2..tokens.len()).find(|&j| free(tokens, j, '`')).map(|j| j + 1);
    }
    if wiki && free(tokens, i, '{') && free(tokens, i + 1, '{') {
        return (i + 3..tokens.len())
            .find(|&j| free(tokens, j, '}') && free(tokens, j + 1, '}'))
            .map(|j| j + 2);
    }
    None
}

fn text_of(tokens: &[Token]) -> String {
    tokens.iter().map(|t| t.0).collect()
}

/// A literal character in wiki markup, escaped where Jira would read it as markup.
fn escape_into(out: &mut String, tokens: &[Token], i: usize) {
    let c = tokens[i].0;
    let (before, after) = (char_at(tokens, i.checked_sub(1)), char_at(tokens, Some(i + 1)));
    let escaped = ALWAYS_ESCAPED.contains(&c)
        || (matches!(c, '-' | '+') && !(is_word(before) && is_word(after)))
        || (c == '?' && (before == Some('?') || after == Some('?')));
    if escaped {
        out.push('\\');
    }
    out.push(c);
}

fn inline_to_wiki(text: &str) -> String {
    convert_to_wiki(&tokens(text, |c| c.is_ascii_punctuation()), true)
}

/// `spans`: whether bold, italic and strike-through are read (not inside one another: nested spans
/// are ambiguous once converted).
fn convert_to_wiki(tokens: &[Token], spans: bool) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let at_boundary = !sticky(char_at(tokens, i.checked_sub(1)));
        if free(tokens, i, '`')
            && let Some(end) = (i + 1..tokens.len()).find(|&j| free(tokens, j, '`'))
            && end > i + 1
        {
            let inner = &tokens[i + 1..end];
            let code = text_of(inner);
            if inner.iter().all(|t| !t.1) && !code.contains(['{', '}', '\\']) && code.trim() == code {
                out.push_str(&format!("{{{{{code}}}}}"));
                i = end + 1;
                continue;
            }
        }
        let delimiters: [(&[char], &str); 4] =
            [(&['*', '*'], "*"), (&['~', '~'], "-"), (&['*'], "_"), (&['_'], "_")];
        let mut matched = false;
        for (delimiter, spelling) in delimiters {
            let opens = delimiter.iter().enumerate().all(|(d, c)| free(tokens, i + d, *c))
                // A single star is italic only when not the start of a double one.
                && !(delimiter.len() == 1 && free(tokens, i + 1, delimiter[0]));
            if spans
                && opens
                && at_boundary
                && let Some(end) = closing(tokens, i + delimiter.len(), delimiter, false)
            {
                out.push_str(spelling);
                out.push_str(&convert_to_wiki(&tokens[i + delimiter.len()..end], false));
                out.push_str(spelling);
                i = end + delimiter.len();
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        if free(tokens, i, '[')
            && let Some((label, url, end)) = markdown_link(tokens, i)
        {
            let mut label_out = String::new();
            for j in 0..label.len() {
                escape_into(&mut label_out, &label, j);
            }
            out.push_str(&format!("[{label_out}|{url}]"));
            i = end;
            continue;
        }
        escape_into(&mut out, tokens, i);
        i += 1;
    }
    out
}

fn safe_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://") || url.starts_with("mailto:"))
        && !url.chars().any(|c| c.is_whitespace() || matches!(c, '|' | '[' | ']' | '(' | ')' | '\\'))
}

fn safe_label(label: &str) -> bool {
    !label.is_empty() && !label.contains(['[', ']', '(', ')', '|', '\\']) && label.trim() == label
}

/// `[label](url)` at `start`: the label's tokens, the URL and the index after it.
fn markdown_link(tokens: &[Token], start: usize) -> Option<(Vec<Token>, String, usize)> {
    let close = (start + 1..tokens.len()).find(|&j| free(tokens, j, ']'))?;
    if !free(tokens, close + 1, '(') {
        return None;
    }
    let end = (close + 2..tokens.len()).find(|&j| free(tokens, j, ')'))?;
    let label = tokens[start + 1..close].to_vec();
    let url_tokens = &tokens[close + 2..end];
    let url = text_of(url_tokens);
    let ok = url_tokens.iter().all(|t| !t.1)
        && label.iter().all(|t| !t.1)
        && safe_url(&url)
        && safe_label(&text_of(&label));
    ok.then_some((label, url, end + 1))
}

/// Jira wiki markup → Markdown.
#[must_use]
pub fn from_wiki(wiki: &str) -> String {
    let lines: Vec<&str> = wiki.lines().collect();
    let marks = fences(&lines, wiki_fence);
    let mut out = Vec::new();
    let mut code = false;
    let mut quote = false;
    for (line, fence) in lines.iter().zip(marks) {
        let trimmed = line.trim_end();
        if fence {
            let language =
                trimmed.strip_prefix("{code:").and_then(|l| l.strip_suffix('}')).unwrap_or_default();
            out.push(if code { "```".to_owned() } else { format!("```{language}") });
            code = !code;
        } else if code {
            out.push((*line).to_owned());
        } else if trimmed == "{quote}" {
            quote = !quote;
        } else {
            let block = block_from_wiki(trimmed);
            out.push(if quote && !block.is_empty() { format!("> {block}") } else { block });
        }
    }
    out.join("\n").trim().to_owned()
}

fn block_from_wiki(line: &str) -> String {
    let rest = line.trim_start();
    if let Some(level) = rest.strip_prefix('h').and_then(|r| r.chars().next()).and_then(|c| c.to_digit(10))
        && (1..=6).contains(&level)
        && rest[2..].starts_with(". ")
    {
        let hashes = "#".repeat(usize::try_from(level).unwrap_or(1));
        return format!("{hashes} {}", inline_from_wiki(rest[4..].trim_start()));
    }
    if rest == "----" {
        return "---".to_owned();
    }
    if rest == "bq." {
        return ">".to_owned();
    }
    if let Some(quoted) = rest.strip_prefix("bq. ") {
        return format!("> {}", inline_from_wiki(quoted.trim_start()));
    }
    let stars = rest.chars().take_while(|c| *c == '*' || *c == '-').count();
    if stars > 0 && rest[stars..].starts_with(' ') && (rest.starts_with('*') || stars == 1) {
        return format!("{}- {}", "  ".repeat(stars - 1), inline_from_wiki(rest[stars..].trim_start()));
    }
    let hashes = rest.chars().take_while(|c| *c == '#').count();
    if hashes > 0 && rest[hashes..].starts_with(' ') {
        return format!("{}1. {}", "  ".repeat(hashes - 1), inline_from_wiki(rest[hashes..].trim_start()));
    }
    let text = inline_from_wiki(rest);
    // A paragraph that would read as a block in Markdown (as `to_wiki` reads it) is escaped.
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && text[digits..].starts_with(". ") {
        return format!("{}\\{}", &text[..digits], &text[digits..]);
    }
    let hashes = text.chars().take_while(|c| *c == '#').count();
    let block_like = (1..=6).contains(&hashes) && text[hashes..].starts_with(' ')
        || text.starts_with('>')
        || ["- ", "* ", "+ ", "```"].iter().any(|marker| text.starts_with(marker))
        || matches!(text.as_str(), "---" | "***" | "___");
    if block_like { format!("\\{text}") } else { text }
}

/// A character of Markdown output: `true` when it stands for itself (a literal, escaped where
/// Markdown would read it as markup), `false` when it is markup.
type Piece = (char, bool);

fn inline_from_wiki(text: &str) -> String {
    render(&pieces_from_wiki(text))
}

fn markup(out: &mut Vec<Piece>, text: &str) {
    out.extend(text.chars().map(|c| (c, false)));
}

fn pieces_from_wiki(text: &str) -> Vec<Piece> {
    pieces_of(&tokens(text, |c| !c.is_alphanumeric() && !c.is_whitespace()), true)
}

fn pieces_of(tokens: &[Token], spans: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (c, escaped) = tokens[i];
        if escaped {
            out.push((c, true));
            i += 1;
            continue;
        }
        let at_boundary = !sticky(char_at(tokens, i.checked_sub(1)));
        if free(tokens, i, '{')
            && free(tokens, i + 1, '{')
            && let Some(end) =
                (i + 2..tokens.len()).find(|&j| free(tokens, j, '}') && free(tokens, j + 1, '}'))
            && end > i + 2
        {
            let inner = &tokens[i + 2..end];
            let code = text_of(inner);
            if inner.iter().all(|t| !t.1) && !code.contains(['`', '{', '}', '\\']) && code.trim() == code {
                markup(&mut out, &format!("`{code}`"));
                i = end + 2;
                continue;
            }
        }
        let mut matched = false;
        for (delimiter, spelling) in [('*', "**"), ('_', "_"), ('-', "~~")] {
            if spans
                && c == delimiter
                && at_boundary
                && let Some(end) = closing(tokens, i + 1, &[delimiter], true)
            {
                markup(&mut out, spelling);
                out.extend(pieces_of(&tokens[i + 1..end], false));
                markup(&mut out, spelling);
                i = end + 1;
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        if c == '['
            && let Some(close) = (i + 1..tokens.len()).find(|&j| free(tokens, j, ']'))
        {
            let inside = &tokens[i + 1..close];
            let (label, url) = match inside.iter().position(|t| *t == ('|', false)) {
                Some(bar) => (&inside[..bar], &inside[bar + 1..]),
                None => (inside, inside),
            };
            let (label, url_ok) = (text_of(label), url.iter().all(|t| !t.1));
            let url = text_of(url);
            if url_ok && safe_url(&url) && safe_label(&label) {
                markup(&mut out, &format!("[{label}]({url})"));
                i = close + 1;
                continue;
            }
        }
        out.push((c, true));
        i += 1;
    }
    out
}

/// Markdown text from pieces: a literal is escaped only where [`to_wiki`] would read it as markup
/// (so plain text stays plain: `foo_bar`, `2*3`, `[list]` are left alone).
fn render(pieces: &[Piece]) -> String {
    let chars: Vec<char> = pieces.iter().map(|(c, _)| *c).collect();
    let mut out = String::new();
    for (k, &(c, literal)) in pieces.iter().enumerate() {
        if literal {
            let (prev, next) = (k.checked_sub(1).map(|p| chars[p]), chars.get(k + 1).copied());
            let escape = match c {
                '*' | '_' => {
                    (!is_word(prev) && next.is_some_and(|n| !n.is_whitespace()))
                        || (prev.is_some_and(|p| !p.is_whitespace()) && !is_word(next))
                }
                '~' => prev == Some('~') || next == Some('~'),
                '`' => chars.iter().enumerate().any(|(j, x)| j != k && *x == '`'),
                '[' => chars[k + 1..].windows(2).any(|w| w == [']', '(']),
                '\\' => next.is_some_and(|n| n.is_ascii_punctuation()),
                _ => false,
            };
            if escape {
                out.push('\\');
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_reads_as_wiki() {
        let text = "# Impact\nOrders **fail** at _payment_ since `deploy-42`.\n- EU\n  - FR\n1. Roll back\n> Customers see 500\nSee [the runbook](https://runbook.example.com/pay).\n```sql\nselect * from orders;\n```";
        let wiki = to_wiki(text);
        assert_eq!(
            wiki,
            "h1. Impact\nOrders *fail* at _payment_ since {{deploy-42}}.\n* EU\n** FR\n# Roll back\nbq. Customers see 500\nSee [the runbook|https://runbook.example.com/pay].\n{code:sql}\nselect * from orders;\n{code}"
        );
        assert_eq!(from_wiki(&wiki), text);
    }

    #[test]
    fn plain_text_stays_plain_both_ways() {
        for text in [
            "Use foo_bar_baz and 2*3*4, a {json} [list] | pipe ^ caret ~ and C:\\temp",
            "e-mail at 10:00 - not -struck- +1 ??cite?? ",
            "h1. not a heading\nbq. nor a quote\n---- nor a rule",
        ] {
            let canonical = from_wiki(&to_wiki(text));
            assert_eq!(canonical, text.trim(), "{text:?} via {:?}", to_wiki(text));
        }
        // What could open markup keeps an escape, and nothing else changes.
        let unclosed = "**unclosed bold and _unclosed italic";
        assert_eq!(from_wiki(&to_wiki(unclosed)), "\\*\\*unclosed bold and \\_unclosed italic");
    }

    #[test]
    fn jira_markup_reads_back_as_markdown() {
        let wiki = "h2. Timeline\n* *14:02* alert\n* _14:05_ rollback {{v1.2}}\n-removed- [docs|https://docs.example.com]\n{quote}\nquoted\n{quote}\n+underline+";
        assert_eq!(
            from_wiki(wiki),
            "## Timeline\n- **14:02** alert\n- _14:05_ rollback `v1.2`\n~~removed~~ [docs](https://docs.example.com)\n> quoted\n+underline+"
        );
    }

    #[test]
    fn the_footer_is_split_off() {
        let full = description(
            "Orders fail.",
            "🧯 This incident has been created for a critical incident.\n📦 Incident category: Payment",
        );
        assert_eq!(
            split_footer(&full),
            (
                "Orders fail.",
                "🧯 This incident has been created for a critical incident.\n📦 Incident category: Payment"
            )
        );
        assert_eq!(split_footer("Orders fail.\n----\nnot ours"), ("Orders fail.\n----\nnot ours", ""));
        assert_eq!(description("x", ""), "x");
        // A ticket made before the footer had its rule.
        let legacy = "Orders fail.\n\n🧯 This incident has been created for a critical incident.\n📦 Incident category: Payment\n *Additional Information* \nSuggested team";
        assert_eq!(split_footer(legacy).0, "Orders fail.");
        assert_eq!(
            split_footer("Orders fail.\n *Additional Information* \nSuggested team").0,
            "Orders fail."
        );
    }

    /// A small deterministic generator of texts rich in markup characters.
    fn texts() -> Vec<String> {
        let alphabet: Vec<&str> = vec![
            "a",
            "b",
            "word",
            " ",
            " ",
            "\n",
            "\n\n",
            "*",
            "**",
            "_",
            "~~",
            "-",
            "+",
            "`",
            "{",
            "}",
            "[",
            "]",
            "(",
            ")",
            "|",
            "\\",
            "#",
            "# ",
            "- ",
            "1. ",
            "> ",
            "h1. ",
            "bq. ",
            "----",
            "```",
            "?",
            "??",
            "^",
            "~",
            "https://x.example.com/a",
            "[l](https://x.example.com)",
            "{{c}}",
            "{code}",
            "  ",
            "é",
            "🧯",
        ];
        let mut seed: u64 = 0x00c0_ffee;
        let mut next = |below: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or_default() % below
        };
        (0..30_000)
            .map(|_| {
                let length = 1 + next(14);
                (0..length).map(|_| alphabet[next(alphabet.len())]).collect::<String>()
            })
            .collect()
    }

    #[test]
    fn no_round_trip_grows_a_text() {
        for text in texts() {
            let text = text.trim().to_owned();
            let wiki = to_wiki(&text);
            let canonical = from_wiki(&wiki);
            // Only escapes may be added (a literal that would read as markup), never text.
            let unescaped = |t: &str| t.chars().filter(|c| *c != '\\').count();
            assert!(unescaped(&canonical) <= unescaped(&text), "{text:?} grew to {canonical:?} via {wiki:?}");
            // A canonical text is a fixed point, both ways.
            assert_eq!(from_wiki(&to_wiki(&canonical)), canonical, "{text:?} via {wiki:?}");
            // Whatever Jira holds, reading it and writing it back once is stable from then on.
            let read = from_wiki(&text);
            let written = to_wiki(&read);
            assert_eq!(from_wiki(&written), read, "wiki {text:?} read as {read:?}, written {written:?}");
        }
    }
}
