//! The shell examples of the README and the guides, run against a real shelf, so that they
//! cannot drift from what the server does (issue 9: the README's quick start had an example that
//! 404ed on a fresh clone, and a PATCH example that got 416).
//!
//! **Which lines are checked.** In a ```` ```sh ```` block, a `curl` command is checked when its
//! trailing `# comment` starts with a status (`# 404 with a short text body`, `# 201: …`,
//! `# 204, Allow: …`), or when the comment lines right below it show the response
//! (`# HTTP/1.1 204 No Content`, then `# Name: value` lines, each of which must be in the
//! response with that value). A command may go on over lines ending in `\`. A `curl` line whose
//! comment does not start with a status is **not run** at all: give it a status if a later line
//! depends on it. A line of shell assignments only (`U=alice:s3cret; B=http://127.0.0.1:8080`)
//! is kept, and put before every command after it.
//!
//! **How they run.** Each section listed in [`RUN`] gets its own server, started the way the
//! section says (below), on port 0; its checked commands then run in the order of the doc, so an
//! upload comes before the request that depends on it. The doc's URL of the server
//! (`http://127.0.0.1:8080`, or the port the README's `shelf -p` line names) is replaced by the
//! real address; nothing else in the command is changed: `-q -s -S --max-time 10 -o /dev/null
//! -D - -w …` is inserted after `curl` to read the status and the headers, and the command runs
//! with `sh -c` in a scratch folder where the files it uploads (`-T f`, `-F x=@f`,
//! `--data-binary @f`) have been made.
//!
//! **How each section's server starts.** The one-word quick start: the binary with the flags of
//! the README's `shelf -p …` line, `0` for the port and a temporary folder for `~/…`. The
//! config-file quick start (`cargo run --release`): the binary in a folder holding copies of the
//! repository's `config.toml` and `public/`, with `--listen 127.0.0.1:0`. The guides: the same,
//! with the guide's ```` ```toml ```` blocks merged into that `config.toml` (tables merged key by
//! key, `[[acl]]`-style arrays of tables appended), so the guide's own config is what is tested;
//! docs/writing.md's password placeholder is filled with what its own `shelf hash-password` line
//! prints, and its `mkdir` line is run; docs/cors.md's examples read `data.json`, made here.
//!
//! Not run: docs/https.md (real host names and certificates), and docs/serving.md and
//! docs/routing.md (not yet set up here). `every_checked_example_is_run` fails when a run doc
//! gains a checked line outside the sections listed in [`RUN`].
//!
//! Needs `curl` (`.ci/run` makes sure it is installed); without it these tests fail and say so.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use common::{PATIENCE, TempDir};

const SHELF: &str = env!("CARGO_BIN_EXE_shelf");

/// A section of a doc: the doc's path in the repository and the heading line that opens it.
type SectionName = (&'static str, &'static str);

const ONE_WORD: SectionName = ("README.md", "### In one word");
const CONFIG_FILE: SectionName = ("README.md", "### With a config file, as a service");
const WRITING: SectionName = ("docs/writing.md", "# Writing over HTTP");
const CORS: SectionName = ("docs/cors.md", "# CORS");

/// Every section whose examples are run, one test each.
const RUN: [SectionName; 4] = [ONE_WORD, CONFIG_FILE, WRITING, CORS];

// ---------------------------------------------------------------------------------------------
// The docs, read as text: sections, fenced blocks, examples.

/// A Markdown file: its path in the repository (for messages) and its text.
struct Doc {
    name: &'static str,
    text: String,
}

impl Doc {
    fn read(name: &'static str) -> Doc {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Doc { name, text }
    }

    /// The lines of the doc, numbered from 1, with whether each is inside a fenced block.
    fn numbered(&self) -> Vec<(usize, &str, bool)> {
        let mut in_fence = false;
        let mut out = Vec::new();
        for (i, line) in self.text.lines().enumerate() {
            let fence = line.trim_start().starts_with("```");
            out.push((i + 1, line, in_fence || fence));
            if fence {
                in_fence = !in_fence;
            }
        }
        out
    }

    /// The lines from `heading` to the next heading of the same or a higher level.
    fn section(&self, heading: &str) -> Section<'_> {
        let level = heading_level(heading).expect("a Markdown heading");
        let lines = self.numbered();
        let start = lines
            .iter()
            .position(|(_, l, fenced)| !fenced && l.trim_end() == heading)
            .unwrap_or_else(|| panic!("{}: no heading {heading:?}", self.name));
        let end = lines[start + 1..]
            .iter()
            .position(|(_, l, fenced)| !fenced && heading_level(l).is_some_and(|n| n <= level))
            .map_or(lines.len(), |n| start + 1 + n);
        Section {
            doc: self.name,
            lines: lines[start..end].iter().map(|&(n, l, _)| (n, l)).collect(),
        }
    }

    fn whole(&self) -> Section<'_> {
        Section {
            doc: self.name,
            lines: self.numbered().iter().map(|&(n, l, _)| (n, l)).collect(),
        }
    }
}

/// `## Title` → 2; `None` for a line that is not a heading.
fn heading_level(line: &str) -> Option<usize> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    (hashes > 0 && line[hashes..].starts_with(' ')).then_some(hashes)
}

/// Numbered lines of one doc.
struct Section<'a> {
    doc: &'static str,
    lines: Vec<(usize, &'a str)>,
}

/// A fenced block: its language (`sh`, `toml`, or empty) and its lines, numbered.
struct Block<'a> {
    lang: &'a str,
    lines: Vec<(usize, &'a str)>,
}

impl<'a> Section<'a> {
    fn blocks(&self) -> Vec<Block<'a>> {
        let mut blocks = Vec::new();
        let mut open: Option<Block<'a>> = None;
        for &(n, line) in &self.lines {
            let fence = line.trim_start().strip_prefix("```");
            match (open.take(), fence) {
                (None, Some(lang)) => {
                    open = Some(Block {
                        lang: lang.trim(),
                        lines: Vec::new(),
                    })
                }
                (None, None) => {}
                (Some(block), Some(_)) => blocks.push(block),
                (Some(mut block), None) => {
                    block.lines.push((n, line));
                    open = Some(block);
                }
            }
        }
        blocks
    }

    /// The examples of the ```sh blocks, in order.
    fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for block in self.blocks().iter().filter(|b| b.lang == "sh") {
            steps.extend(parse_steps(&block.lines));
        }
        steps
    }

    fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        for step in self.steps() {
            if let Step::Check(check) = step {
                checks.push(check);
            }
        }
        checks
    }

    /// The text of the ```toml blocks.
    fn toml(&self) -> Vec<String> {
        let blocks = self.blocks();
        let toml = blocks.iter().filter(|b| b.lang == "toml");
        toml.map(|b| b.lines.iter().map(|(_, l)| format!("{l}\n")).collect())
            .collect()
    }

    /// The command (comment removed) of the first line of a ```sh block containing `needle`:
    /// how this test knows what the doc tells the reader to run.
    fn sh_command(&self, needle: &str) -> String {
        let blocks = self.blocks();
        let lines = blocks
            .iter()
            .filter(|b| b.lang == "sh")
            .flat_map(|b| &b.lines);
        lines
            .map(|(_, line)| split_comment(line).0.trim().to_string())
            .find(|command| command.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no ```sh line with {needle:?} in the section starting at line {}; \
                     tests/doc_examples.rs starts its server from it",
                    self.doc, self.lines[0].0
                )
            })
    }
}

/// One example of a section, in doc order.
#[derive(Debug, PartialEq)]
enum Step {
    /// A line of shell assignments (`U=alice:s3cret; B=http://…`), kept for later commands.
    Vars(String),
    /// A `curl` command and the response the doc says it gets.
    Check(Check),
}

#[derive(Debug, PartialEq)]
struct Check {
    /// The doc's line where the command starts, from 1.
    line: usize,
    /// The command as the doc has it, comment removed, continued lines joined.
    command: String,
    /// The status the doc promises.
    status: u16,
    /// `Name: value` pairs a response transcript shows below the command.
    headers: Vec<(String, String)>,
}

/// The examples of one ```sh block (its lines, numbered); lines that are neither checked
/// `curl` commands nor assignments are left out.
fn parse_steps(lines: &[(usize, &str)]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = lines[i].0;
        let (code, mut comment) = split_comment(lines[i].1);
        let mut command = code.trim().to_string();
        while command.ends_with('\\') && i + 1 < lines.len() {
            command.pop();
            i += 1;
            let (code, more) = split_comment(lines[i].1);
            command = format!("{} {}", command.trim_end(), code.trim());
            comment = more;
        }
        i += 1;
        if is_assignments(&command) {
            steps.push(Step::Vars(command));
            continue;
        }
        if !command.starts_with("curl ") {
            continue;
        }
        let (status, headers) = match comment.and_then(status_prefix) {
            Some(status) => (Some(status), Vec::new()),
            None => transcript(lines, &mut i),
        };
        if let Some(status) = status {
            steps.push(Step::Check(Check {
                line: first,
                command,
                status,
                headers,
            }));
        }
    }
    steps
}

/// A response shown as comment lines right below a command, from `lines[*i]`: `# HTTP/1.1 204
/// No Content` and then `# Name: value` lines (consumed). `(None, [])` when there is none.
fn transcript(lines: &[(usize, &str)], i: &mut usize) -> (Option<u16>, Vec<(String, String)>) {
    let comment = |i: usize| lines.get(i).and_then(|(_, l)| l.trim().strip_prefix("# "));
    let Some(status) = comment(*i)
        .and_then(|c| c.strip_prefix("HTTP/1.1 "))
        .and_then(status_prefix)
    else {
        return (None, Vec::new());
    };
    *i += 1;
    let mut headers = Vec::new();
    while let Some((name, value)) = comment(*i).and_then(|c| c.split_once(": ")) {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            break;
        }
        headers.push((name.to_string(), value.trim().to_string()));
        *i += 1;
    }
    (Some(status), headers)
}

/// Splits a shell line into its code and its `# comment` (text after the `#`, trimmed). A `#`
/// starts a comment only outside quotes and at the start of a word, as in `sh`.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') | (None, '\\') => escaped = true,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => {
                return (&line[..at], Some(line[at + 1..].trim()));
            }
            (None, _) => {}
        }
        previous = c;
    }
    (line, None)
}

/// The status a comment starts with: three digits, 100 to 599, then no other digit or letter.
fn status_prefix(comment: &str) -> Option<u16> {
    let digits = comment.len()
        - comment
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .len();
    let after = comment[digits..].chars().next();
    let status: u16 = comment[..digits].parse().ok()?;
    let alone = digits == 3 && !after.is_some_and(|c| c.is_alphanumeric());
    (alone && (100..600).contains(&status)).then_some(status)
}

/// True for a line of `NAME=value` words separated by `;` and nothing else.
fn is_assignments(command: &str) -> bool {
    let assignment = |part: &str| {
        let words = words(part);
        words.len() == 1
            && words[0].split_once('=').is_some_and(|(name, _)| {
                name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    };
    let parts: Vec<&str> = command.split(';').map(str::trim).collect();
    !command.is_empty()
        && parts
            .iter()
            .filter(|p| !p.is_empty())
            .all(|p| assignment(p))
}

/// The words of a shell command, quotes removed (no expansion).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, '\\') => word.get_or_insert_default().extend(chars.next()),
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

/// The local files a `curl` command sends: `-T f`, `-F name=@f`, `--data-binary @f`, `-d @f`.
fn uploaded_files(command: &str) -> Vec<String> {
    let words = words(command);
    let mut files = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let file = if i > 0 && matches!(words[i - 1].as_str(), "-T" | "--upload-file") {
            Some(word.as_str())
        } else if let Some((_, file)) = word.split_once("=@") {
            file.split(';').next()
        } else {
            word.strip_prefix('@')
        };
        files.extend(
            file.filter(|f| !f.is_empty() && *f != "-")
                .map(str::to_string),
        );
    }
    files
}

// ---------------------------------------------------------------------------------------------
// Running the examples.

/// Runs `section`'s checked examples in order against a server at `addr`, `doc_url` (how the
/// doc writes the server's URL) replaced by the real one, in the scratch folder `work`. Returns
/// one message per example whose response is not what the doc says.
fn run_examples(section: &Section, doc_url: &str, addr: SocketAddr, work: &Path) -> Vec<String> {
    let real_url = format!("http://{addr}");
    let mut vars = String::new();
    let mut failures = Vec::new();
    let steps = section.steps();
    assert!(
        steps.iter().any(|s| matches!(s, Step::Check(_))),
        "{}: no checked example in the section starting at line {}",
        section.doc,
        section.lines[0].0
    );
    for step in steps {
        let check = match step {
            Step::Vars(text) => {
                vars.push_str(&text.replace(doc_url, &real_url));
                vars.push('\n');
                continue;
            }
            Step::Check(check) => check,
        };
        let command = check.command.replace(doc_url, &real_url);
        let place = format!("{}:{}: `{}`", section.doc, check.line, check.command);
        if let Err(why) = aims_at(&command, &vars, &real_url) {
            failures.push(format!("{place}: {why}"));
            continue;
        }
        for file in uploaded_files(&command) {
            let path = work.join(&file);
            if !path.exists() {
                std::fs::write(&path, format!("{file}: made by tests/doc_examples.rs\n")).unwrap();
            }
        }
        let seen = run_curl(&vars, &command, work);
        let mut wrong = Vec::new();
        if seen.status != check.status {
            wrong.push(format!(
                "status {}, the doc says {}",
                seen.status, check.status
            ));
        }
        for (name, value) in &check.headers {
            let got: Vec<&str> = seen.headers_named(name).collect();
            if !got.contains(&value.as_str()) {
                wrong.push(format!("{name}: {got:?}, the doc says {value:?}"));
            }
        }
        if !wrong.is_empty() {
            let curl_said = match seen.stderr.trim() {
                "" => String::new(),
                said => format!(" (curl: {said})"),
            };
            failures.push(format!("{place}: {}{curl_said}", wrong.join("; ")));
        }
    }
    failures
}

/// Refuses a command that would not reach the server under test: every URL in it must be
/// `real_url`, and it must name one or use a variable (which then must hold it).
fn aims_at(command: &str, vars: &str, real_url: &str) -> Result<(), String> {
    let words = words(command);
    let url = |w: &&String| w.starts_with("http://") || w.starts_with("https://");
    if let Some(other) = words.iter().filter(url).find(|w| !w.starts_with(real_url)) {
        return Err(format!(
            "{other}: not the server's URL as the doc writes it, so not shelf under test"
        ));
    }
    let by_variable = words.iter().any(|w| w.starts_with('$')) && vars.contains(real_url);
    match words.iter().any(|w| w.starts_with(real_url)) || by_variable {
        true => Ok(()),
        false => Err("names no URL of the server".to_string()),
    }
}

/// What `curl` reported for one command.
struct Seen {
    status: u16,
    /// The head of the last response, one line each.
    head: Vec<String>,
    stderr: String,
}

impl Seen {
    fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> {
        self.head.iter().filter_map(move |line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Runs `vars` and then `command` (a `curl` command) with `sh -c` in `work`, with options
/// inserted after `curl` so that stdout holds the response heads and then the status.
fn run_curl(vars: &str, command: &str, work: &Path) -> Seen {
    let rest = command.strip_prefix("curl ").expect("a curl command");
    let script = format!(
        "{vars}curl -q -s -S --max-time 10 -o /dev/null -D - -w '\\n%{{http_code}}\\n' {rest}"
    );
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(&script).current_dir(work);
    for proxy in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        sh.env_remove(proxy);
    }
    let out = sh.output().expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
    let status = lines.last().and_then(|l| l.parse().ok()).unwrap_or(0);
    let last_head = lines.iter().rposition(|l| l.starts_with("HTTP/"));
    let head = last_head.map_or(Vec::new(), |at| {
        let head = lines[at..].iter().take_while(|l| !l.is_empty());
        head.map(|l| l.to_string()).collect()
    });
    Seen {
        status,
        head,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Fails the test with every failure of `section`'s examples, and the server's log to explain
/// them.
fn assert_no_failures(section: &Section, failures: &[String], server: Shelf) {
    let heading = section.lines[0].1;
    let checked = section.checks().len();
    eprintln!(
        "{} {heading:?}: {checked} example lines checked",
        section.doc
    );
    if failures.is_empty() {
        return;
    }
    let log = server.stop();
    panic!(
        "{} {heading:?}: {} of {checked} examples not as the doc says:\n  {}\n\nshelf's log:\n{}",
        section.doc,
        failures.len(),
        failures.join("\n  "),
        log.join("\n")
    );
}

/// Fails with a clear message when `curl`, which runs the examples, is not installed.
fn require_curl() {
    let found = Command::new("curl").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "tests/doc_examples.rs runs the docs' curl commands, and `curl` is not installed: \
         install curl (for example `apt-get install curl`) and run the tests again"
    );
}

// ---------------------------------------------------------------------------------------------
// The server, as the docs start it.

/// A running `shelf` process and the address of its serving line; killed on drop.
struct Shelf {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    log_readers: Vec<JoinHandle<()>>,
}

impl Shelf {
    /// Runs `shelf args…` in `cwd` and waits for its first serving line.
    fn spawn(cwd: &Path, args: &[String]) -> Shelf {
        let mut child = Command::new(SHELF)
            .args(args)
            .current_dir(cwd)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shelf");
        // The serving line comes on the channel; the rest of stdout (the access log) and all
        // of stderr go to the log, shown when an example fails.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&log);
        let stdout_reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout).lines().map_while(Result::ok);
            let _ = stdout.next().map(|line| tx.send(line));
            stdout.for_each(|line| sink.lock().unwrap().push(line));
        });
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        let stderr_reader = std::thread::spawn(move || {
            let stderr = BufReader::new(stderr).lines().map_while(Result::ok);
            stderr.for_each(|line| sink.lock().unwrap().push(line));
        });
        let mut shelf = Shelf {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
            log_readers: vec![stdout_reader, stderr_reader],
        };
        match lines.recv_timeout(PATIENCE) {
            Ok(line) => shelf.addr = serving_address(&line),
            Err(e) => {
                let log = shelf.stop();
                panic!("shelf {args:?} printed no serving line ({e}); its log:\n{log:?}")
            }
        }
        shelf
    }

    /// Stops the process and returns what it logged.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.log_readers.drain(..) {
            let _ = reader.join();
        }
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Shelf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serving <root> on http://<addr>` → the address.
fn serving_address(line: &str) -> SocketAddr {
    let url = line.rsplit_once(" on ").map(|(_, url)| url);
    url.and_then(|u| u.strip_prefix("http://"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not a serving line: {line:?}"))
}

/// The repository's `config.toml` with `extra` (TOML texts) merged in.
fn shipped_config(extra: &[String]) -> toml::Table {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let mut config: toml::Table = std::fs::read_to_string(shipped).unwrap().parse().unwrap();
    for text in extra {
        let table: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("a ```toml block is not valid TOML: {e}\n{text}"));
        merge(&mut config, table);
    }
    config
}

/// Merges `add` into `base` as a reader would edit the file: a table key by key, an array of
/// tables (`[[acl]]`) appended to, any other value replaced.
fn merge(base: &mut toml::Table, add: toml::Table) {
    use toml::Value;
    for (key, value) in add {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(mine)), Value::Table(theirs)) => merge(mine, theirs),
            (Some(Value::Array(mine)), Value::Array(theirs))
                if theirs.iter().all(Value::is_table) =>
            {
                mine.extend(theirs)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The URL the docs write for a server configured by `config`: its `server.listen`.
fn doc_url(config: &toml::Table) -> String {
    let listen = config["server"]["listen"].as_str().expect("server.listen");
    format!("http://{listen}")
}

/// A folder holding `config` as `config.toml` and a copy of the repository's `public/`.
fn write_site(dir: &Path, config: &toml::Table) -> PathBuf {
    let site = dir.join("site");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("public"),
        &site.join("public"),
    );
    std::fs::write(site.join("config.toml"), toml::to_string(config).unwrap()).unwrap();
    site
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A scratch folder for the commands, under `dir`.
fn work_folder(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    work
}

/// Runs `command` with `sh -c` in `cwd` and returns its stdout; fails on a non-zero exit.
fn sh(command: &str, cwd: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{command}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts the server of the config-file quick start (and of the guides built on it): the
/// binary in `site`, as `cargo run --release` runs it there, on port 0.
fn spawn_in_site(site: &Path) -> Shelf {
    Shelf::spawn(site, &["--listen".into(), "127.0.0.1:0".into()])
}

/// Starts the server for a section run on the shipped config plus its ```toml blocks, and runs
/// its examples; `prepare` gets the site folder and the merged config before the start.
fn run_on_site(name: SectionName, prepare: impl FnOnce(&Path, &mut toml::Table)) {
    require_curl();
    let doc = Doc::read(name.0);
    let section = doc.section(name.1);
    let dir = TempDir::new("docs");
    let mut config = shipped_config(&section.toml());
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    prepare(&site, &mut config);
    let site = write_site(dir.path(), &config);
    let server = spawn_in_site(&site);
    let work = work_folder(dir.path());
    let failures = run_examples(&section, &doc_url(&config), server.addr, &work);
    assert_no_failures(&section, &failures, server);
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// README, "In one word": `shelf -p 9000 --upload --auth alice:secret ~/Downloads`, with port 0
/// and a temporary folder.
#[test]
fn readme_one_word_quick_start() {
    require_curl();
    let doc = Doc::read(ONE_WORD.0);
    let section = doc.section(ONE_WORD.1);
    let dir = TempDir::new("docs");
    let line = section.sh_command("shelf -p ");
    let mut args = words(&line);
    assert_eq!(args.remove(0), "shelf", "{line}");
    let port_at = 1 + args.iter().position(|a| a == "-p").unwrap();
    let doc_url = format!("http://127.0.0.1:{}", args[port_at]);
    args[port_at] = "0".into();
    for arg in args.iter_mut().filter(|a| a.starts_with("~/")) {
        let folder = dir.path().join(arg.trim_start_matches("~/"));
        std::fs::create_dir_all(&folder).unwrap();
        *arg = folder.display().to_string();
    }
    let server = Shelf::spawn(dir.path(), &args);
    let work = work_folder(dir.path());
    let failures = run_examples(&section, &doc_url, server.addr, &work);
    assert_no_failures(&section, &failures, server);
}

/// README, "With a config file": `cargo run --release` in the repository, i.e. the shipped
/// `config.toml` and `public/`.
#[test]
fn readme_config_file_quick_start() {
    let section_says = Doc::read(CONFIG_FILE.0)
        .section(CONFIG_FILE.1)
        .sh_command("cargo run");
    assert_eq!(
        section_says, "cargo run --release",
        "how the section starts shelf"
    );
    run_on_site(CONFIG_FILE, |_, _| {});
}

/// docs/writing.md: its `[users]` and `[[acl]]` on the shipped config, its password hashed by
/// its own `shelf hash-password` line, its folders made by its own `mkdir` line.
#[test]
fn writing_guide() {
    let doc = Doc::read(WRITING.0);
    let section = doc.section(WRITING.1);
    let hash_line = section.sh_command("shelf hash-password");
    let mkdir_line = section.sh_command("mkdir ");
    run_on_site(WRITING, |site, config| {
        let binary = format!("'{SHELF}' hash-password");
        let hash = sh(&hash_line.replace("shelf hash-password", &binary), site);
        let hash = hash.trim();
        let users = config["users"].as_table_mut().expect("[users]");
        let mut filled = 0;
        for (user, value) in users.iter_mut() {
            let Some((shown, _)) = value.as_str().and_then(|v| v.split_once('…')) else {
                continue;
            };
            // The doc shows the start of what `shelf hash-password` prints: it must be so.
            assert!(
                hash.starts_with(shown),
                "{user}: {shown}… in the doc, {hash} printed"
            );
            *value = toml::Value::String(hash.to_string());
            filled += 1;
        }
        assert_eq!(filled, 1, "the `[users]` placeholder of {}", WRITING.0);
        sh(&mkdir_line, site);
    });
}

/// docs/cors.md: its `[cors]` on the shipped config, and the `data.json` its examples read.
#[test]
fn cors_guide() {
    run_on_site(CORS, |site, _| {
        std::fs::create_dir_all(site.join("public")).unwrap();
        std::fs::write(site.join("public/data.json"), "{\"ok\": true}\n").unwrap();
    });
}

/// A doc example that is wrong fails the test, naming the doc, the line, the command and both
/// statuses: the README's `# 404` turned into `# 200` in memory.
#[test]
fn a_wrong_status_in_a_doc_is_reported() {
    require_curl();
    let real = Doc::read(CONFIG_FILE.0);
    let wrong = Doc {
        name: real.name,
        text: real.text.replace("# 404 with", "# 200 with"),
    };
    assert_ne!(
        wrong.text, real.text,
        "the README has no `# 404 with` example"
    );
    let section = wrong.section(CONFIG_FILE.1);
    let line = section
        .checks()
        .into_iter()
        .find(|c| c.command.ends_with("/missing"));
    let line = line.expect("the /missing example").line;
    let dir = TempDir::new("docs");
    let config = shipped_config(&[]);
    let server = spawn_in_site(&write_site(dir.path(), &config));
    let work = work_folder(dir.path());
    let failures = run_examples(&section, &doc_url(&config), server.addr, &work);
    assert_eq!(
        failures,
        [format!(
            "README.md:{line}: `curl -i http://127.0.0.1:8080/missing`: status 404, the doc says 200"
        )]
    );
}

/// Every checked example of a run doc lies in a section that is run, and none hides in a
/// fenced block of another language.
#[test]
fn every_checked_example_is_run() {
    let docs: BTreeSet<&str> = RUN.iter().map(|(doc, _)| *doc).collect();
    for name in docs {
        let doc = Doc::read(name);
        let whole: BTreeSet<usize> = doc.whole().checks().iter().map(|c| c.line).collect();
        let run: BTreeSet<usize> = RUN
            .iter()
            .filter(|(d, _)| *d == name)
            .flat_map(|(_, heading)| doc.section(heading).checks())
            .map(|c| c.line)
            .collect();
        let missed: Vec<_> = whole.difference(&run).collect();
        assert!(
            missed.is_empty(),
            "{name}: checked examples at lines {missed:?} are in no section of RUN in \
             tests/doc_examples.rs: add their section there, with a test that starts its server"
        );
        for block in doc.whole().blocks().iter().filter(|b| b.lang != "sh") {
            let steps = parse_steps(&block.lines);
            let hidden = steps.iter().find_map(|s| match s {
                Step::Check(c) => Some(c.line),
                Step::Vars(_) => None,
            });
            assert_eq!(
                hidden, None,
                "{name}: a checked curl example in a ```{} block, which is not run: make it ```sh",
                block.lang
            );
        }
    }
}

/// The example parser on fixed lines, hostile rows first.
#[test]
fn examples_are_read_as_documented() {
    let check = |line: usize, command: &str, status: u16| {
        Step::Check(Check {
            line,
            command: command.to_string(),
            status,
            headers: Vec::new(),
        })
    };
    // (what it proves, the block's lines, the steps read)
    let rows: Vec<(&str, Vec<&str>, Vec<Step>)> = vec![
        (
            "a # inside quotes is no comment",
            vec!["curl -H 'X: a # 500' http://h/   # 200 ok"],
            vec![check(1, "curl -H 'X: a # 500' http://h/", 200)],
        ),
        (
            "a # inside a word is no comment",
            vec!["curl http://h/#404"],
            vec![],
        ),
        (
            "a status not at the start of the comment: not run",
            vec!["curl -T a http://h/a   # upload (201)"],
            vec![],
        ),
        (
            "a number that is no status: not run",
            vec!["curl http://h/   # 2026 was a year", "curl http://h/  # 42"],
            vec![],
        ),
        (
            "a command that is not curl: not run",
            vec!["cargo run --release   # 200"],
            vec![],
        ),
        (
            "statuses followed by words, a colon, a comma, a semicolon",
            vec![
                "curl http://h/a   # 404 with a short text body",
                "curl http://h/b   # 201: created",
                "curl http://h/c   # 204, Allow: GET",
                "curl http://h/d   # 204; a non-empty folder is 409",
            ],
            vec![
                check(1, "curl http://h/a", 404),
                check(2, "curl http://h/b", 201),
                check(3, "curl http://h/c", 204),
                check(4, "curl http://h/d", 204),
            ],
        ),
        (
            "assignments on a line of their own are kept; with a command, not run",
            vec![
                "U=alice:s3cret; B=http://h",
                "curl -u $U $B/   # 200",
                "X=1 curl $B/   # 200",
            ],
            vec![
                Step::Vars("U=alice:s3cret; B=http://h".into()),
                check(2, "curl -u $U $B/", 200),
            ],
        ),
        (
            "a continued command and the response shown below it",
            vec![
                "# a preflight",
                "curl -i -X OPTIONS http://h/d \\",
                "     -H 'Origin: https://a.example'",
                "# HTTP/1.1 204 No Content",
                "# Vary: Origin",
                "",
                "curl http://h/   # 200",
            ],
            vec![
                Step::Check(Check {
                    line: 2,
                    command: "curl -i -X OPTIONS http://h/d -H 'Origin: https://a.example'".into(),
                    status: 204,
                    headers: vec![("Vary".into(), "Origin".into())],
                }),
                check(7, "curl http://h/", 200),
            ],
        ),
    ];
    for (what, lines, want) in rows {
        let numbered: Vec<(usize, &str)> =
            lines.iter().enumerate().map(|(i, l)| (i + 1, *l)).collect();
        assert_eq!(parse_steps(&numbered), want, "{what}");
    }
    assert_eq!(
        uploaded_files(
            "curl -u $U -F file=@a.jpg -F 'f=@b c.jpg;type=image/jpeg' -T r.pdf --data-binary @log.txt -d @- $B/"
        ),
        ["a.jpg", "b c.jpg", "r.pdf", "log.txt"]
    );
}
