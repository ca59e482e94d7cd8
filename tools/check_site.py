#!/usr/bin/env python
"""Check the documentation site as the real Quarto build shows it, on a machine without Quarto.

For every notebook under `--nbs` this script

1. runs nbdev's docs processing (`nbdev.serve.proc_nbs`, the step behind `nbdev_proc_nbs`) on a temporary copy
   of `settings.ini` and the notebooks folder, so nothing is written into the repo;
2. writes each processed notebook as Quarto does (pandoc markdown: `.cell` divs, code blocks, `.cell-output`
   divs, `output: asis` markdown as it is, the html branch of `content-visible` blocks) and renders it with
   pandoc 3 (Quarto 1.7 runs pandoc 3.x) into a page laid out as Quarto 1.7.34's cosmo website at 1280 px:
   sidebar, a 680 px text column (`--column`), table of contents; Quarto's rules that decide what is cut off
   (printed output keeps its lines, code cells wrap, images fit) and the site's own `styles.css` on top;
3. opens each page in headless Chromium (DevTools protocol over `--remote-debugging-pipe`, standard library
   only), with KaTeX for the maths (`html-math-method: katex`), and saves a screenshot `<out>/<notebook>.png`;
4. fails, printing page and context for each, on what a reader would meet in the real build:
   - printed output cut at the right edge (measured: the box scrolls, because no rule makes it wrap);
   - display maths (or a table) wider than the text column;
   - signatures with `NoneType`, `VAR_POSITIONAL`, raw markdown or backticks, `( )`, a comment after the
     `)->Type:`, a `*` breaking a docstring's italics, `*args`/`**kwargs` without their stars, a bare `Optional`,
     an entry without its source link;
   - flags typeset as en dashes in prose (`--flag` outside backticks becomes `\u2013flag`); a paragraph ending
     with ":" followed by a heading, a reference entry's rule or nothing (show_doc's output sits in the page as it
     is, not in a cell);
   - links with no target: `#anchors` on the page or on another page of the site (nbdev's doc links are
     `page.html#name` / `#class.method`), site pages no notebook makes, GitHub/Colab files not committed;
   - the Colab badge written in markdown (Quarto makes it a figure captioned "Open In Colab"); pictures the
     site takes from raw.githubusercontent.com / github.com; missing images; unrendered maths; error outputs,
     tracebacks, stderr shown;
   - words of how the project was built (`BUILD_WORDS`: "the issue", "tests skip", "hidden test", "we tried",
     "seed00", "#| ", ...), counting only what the page shows;
   - code lines longer than the code blocks show (`CODE_WIDTH`);
   - a module whose `_modidx.py` entry is empty (its page has no doc or source links: nbdev 2.4.14 skips
     notebooks whose path contains "auto");
   and, site-wide (full runs only): "View source" links that miss the notebooks folder (`repo-subdir` in
   `_quarto.yml`), `styles.css` lacking the rules that wrap outputs and let wide maths scroll, and a sidebar
   (`custom_sidebar = True`, committed `nbs/sidebar.yml`) that disagrees with the home page's chapter list
   ("- **3a** [Name](.../page.html)": the sidebar text is "3a Name") or names a file that does not exist.

Tools: Chromium (Debian `chromium`), KaTeX (Debian `libjs-katex`, `fonts-katex`) and pandoc 3 (`$PANDOC`, on the
PATH, or `pip install pypandoc_binary==1.15`); run as root with apt-get/pip, the script installs what is missing
(`--no-install` to forbid). `--katex DIR` / `$KATEX_DIR` and `--chromium PATH` / `$CHROMIUM` point at other copies.

Usage (from the repo root, in the project's virtualenv):

    python tools/check_site.py [--nbs nbs] [--out site_check] [--only NAME ...] [--expect NOTEBOOK ...]

Prints one line per page (OK or FAIL with its problems), a table of problem counts per page and kind, and
`site check: N pages, M problems` (all also in `<out>/report.txt`); exits 1 when there are problems, 2 when the
check itself could not run.
"""
import argparse, base64, configparser, fcntl, fnmatch, html, html.parser, json, os, re, select, shutil, subprocess, sys
import tempfile, time, urllib.parse
from pathlib import Path

import nbformat, yaml

REPO = Path(__file__).resolve().parent.parent
KATEX_DIRS = ['/usr/share/javascript/katex', '/usr/share/nodejs/katex/dist']
CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
APT_PACKAGES = ['chromium', 'libjs-katex', 'fonts-katex']
MAX_SHOT_HEIGHT = 30000  # px; taller pages are cut there (the line says so)
# The site's code blocks are 682 px wide at a 1300 px window (Quarto 1.7.34, cosmo theme, sidebar and table of
# contents shown; measured on screenshots of the Quarto-built site). At Quarto's default code font (8.8 px a
# character) only 76 characters fit; nbs/styles.css sets code and output blocks in 0.7rem (11.2 px, about 6.7 px a
# character), so 100 fit, and _quarto.yml's `code-overflow: wrap` wraps anything longer instead of scrolling.
CODE_WIDTH = 100
COLUMN = 680  # px: Quarto 1.7.34's text column at a 1280 px window (sidebar and table of contents shown), measured
             # on screenshots of the real build (682 px at 1300 px); output blocks there are cut at about 92 characters
SKIP_DIRS = {'_proc', '_site', '_docs', '.quarto', '.ipynb_checkpoints'}


class SetupError(RuntimeError):
    "The check could not run (missing tool, nbdev processing crashed, browser died)."


# ----------------------------------------------------------------------------- tools
def find_katex(explicit=None):
    "Directory holding katex.min.js, katex.min.css and contrib/auto-render.min.js or .js, or None."
    for d in [explicit, os.environ.get('KATEX_DIR'), *KATEX_DIRS]:
        if d and (Path(d)/'katex.min.js').exists(): return Path(d)
    return None


def find_chromium(explicit=None):
    "Path of a Chromium/Chrome executable, or None."
    for name in [explicit, os.environ.get('CHROMIUM'), *CHROMIUM_NAMES]:
        if name and shutil.which(name): return shutil.which(name)
    return None


def ensure_tools(chromium=None, katex=None, install=True):
    "Locate Chromium and KaTeX, installing the Debian packages when missing and allowed."
    found = find_chromium(chromium), find_katex(katex)
    if all(found): return found
    if install and hasattr(os, 'geteuid') and os.geteuid() == 0 and shutil.which('apt-get'):
        print(f"check_site: installing {' '.join(APT_PACKAGES)} with apt-get ...", flush=True)
        cmd = ['apt-get', 'install', '-y', '--no-install-recommends', *APT_PACKAGES]
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(['apt-get', 'update'], env=env, stdout=subprocess.DEVNULL)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
        found = find_chromium(chromium), find_katex(katex)
        if all(found): return found
    missing = [n for n, f in zip(['chromium (Debian package chromium)', 'KaTeX (Debian package libjs-katex)'], found) if not f]
    raise SetupError(f"missing {', '.join(missing)}: install with "
                     f"`apt-get install -y --no-install-recommends {' '.join(APT_PACKAGES)}` "
                     "or pass --chromium PATH / --katex DIR")


# ----------------------------------------------------------------------------- notebooks
def find_config(nbs):
    "Folder holding settings.ini, searching up from `nbs`."
    for d in [nbs, *nbs.parents]:
        if (d/'settings.ini').exists(): return d
    raise SetupError(f"no settings.ini in {nbs} or its parents")


def list_notebooks(nbs):
    "Notebooks nbdev renders (skipping files/folders starting with _ or .), sorted."
    return sorted(p for p in nbs.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs).parts))


def select_notebooks(nbs, only):
    "Notebooks named by `only` (stem, file name, path relative to nbs, or a glob); all when empty."
    nbs_all = list_notebooks(nbs)
    if not only: return nbs_all
    chosen = []
    for name in only:
        name = Path(name).name if Path(name).suffix == '.ipynb' else name
        hits = [p for p in nbs_all if fnmatch.fnmatch(p.name, name) or fnmatch.fnmatch(p.stem, name)]
        if not hits:
            raise SetupError(f"--only {name}: no such notebook in {nbs} (have: {', '.join(p.stem for p in nbs_all)})")
        chosen += [p for p in hits if p not in chosen]
    return chosen


def copy_site_sources(nbs, notebooks, dest):
    "Copy nbs/ into `dest`, keeping only `notebooks` among the .ipynb files (images etc. all kept)."
    keep = {p.resolve() for p in notebooks}
    def ignore(folder, names):
        folder = Path(folder)
        return [n for n in names if n in SKIP_DIRS
                or (n.endswith('.ipynb') and (folder/n).resolve() not in keep)]
    shutil.copytree(nbs, dest, ignore=ignore, symlinks=False)


# One Python process (one torch import) processes every notebook, each in its own work folder so that
# one notebook that nbdev cannot process does not hide the others. `proc_nbs` is what `nbdev_proc_nbs`
# runs after trying to install Quarto (which needs sudo and the internet); calling it directly skips
# that. It writes to <folder of settings.ini>/_proc; get_config() is cached, hence cache_clear().
PROC_DRIVER = r"""
import json, os, sys, traceback, warnings, nbdev.config, nbdev.serve
for work, nbs_rel in json.loads(sys.argv[1]):
    os.chdir(work)
    nbdev.config.get_config.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try: nbdev.serve.proc_nbs(nbs_rel, n_workers=0, force=True)
        except Exception: open('proc_error.txt', 'w').write(traceback.format_exc())
    n = sum('cells containing imports and other code' in str(w.message) for w in caught)
    open('proc_mixed_imports.txt', 'w').write(str(n))
"""


def process_notebooks(nbs, notebooks, cfg_dir, tmp):
    """Process each notebook with nbdev in `tmp`: {source notebook: (processed notebook or None, problems, note)}.
    The note counts cells nbdev executes while building the docs because they mix imports and other code."""
    nbs_rel = nbs.resolve().relative_to(cfg_dir.resolve())
    jobs, res = [], {}
    for i, p in enumerate(notebooks):
        work = tmp/f'{i:03d}_{p.stem}'
        work.mkdir(parents=True)
        shutil.copy2(cfg_dir/'settings.ini', work/'settings.ini')
        copy_site_sources(nbs, [p], work/nbs_rel)
        jobs.append([str(work), str(nbs_rel)])
    r = subprocess.run([sys.executable, '-c', PROC_DRIVER, json.dumps(jobs)], capture_output=True, text=True)
    for p, (work, _) in zip(notebooks, jobs):
        work, dst = Path(work), Path(work)/'_proc'/p.relative_to(nbs)
        err = work/'proc_error.txt'
        mixed = work/'proc_mixed_imports.txt'
        n = int(mixed.read_text()) if mixed.exists() else 0
        note = (f"; note: nbdev executes {n} cell(s) mixing imports and other code while building the docs"
                " (see nbdev FAQ; put imports in their own cell)") if n else ''
        if err.exists(): res[p] = (None, [f"nbdev processing failed: {error_summary(err.read_text())}"], note)
        elif dst.exists(): res[p] = (dst, [], note)
        else: res[p] = (None, [f"nbdev processing wrote no page: {error_summary(r.stdout + r.stderr)}"], note)
    return res


def error_summary(output):
    "The exception lines of a Python traceback, e.g. 'RuntimeError: boom; Exception: Error in notebook ...'."
    errs = [l.strip() for l in output.splitlines() if re.match(r'^[A-Za-z_.]*(Error|Exception|Interrupt)(:|$)', l)]
    return '; '.join(dict.fromkeys(errs)) or (output.splitlines() or ['no output'])[-1]


def frontmatter(nb):
    "Title/description from the raw YAML front matter cell nbdev puts first."
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
            try: return yaml.safe_load(c.source.strip().strip('-')) or {}
            except yaml.YAMLError: return {}
    return {}


def output_errors(nb):
    "Problems for error outputs: output_type 'error', or a traceback printed to a stream."
    probs = []
    for i, c in enumerate(nb.cells):
        for o in c.get('outputs', []):
            if o.output_type == 'error':
                probs.append(f"error output in cell {i}: {o.get('ename', '?')}: {str(o.get('evalue', ''))[:120]}")
            elif o.output_type == 'stream' and 'Traceback' in o.get('text', ''):
                probs.append(f"traceback in {o.get('name', 'stream')} output of cell {i}")
    return probs


# ----------------------------------------------------------------------------- what a reader reads
def cell_options(src):
    "Quarto cell options of a code cell's `#| key: value` lines, e.g. {'echo': 'false'}."
    return {m.group(1): m.group(2).lower() for m in map(QUARTO_OPTION.match, src.splitlines()) if m}


def output_text(o):
    "Text of an output as the page shows it (streams, plain text, markdown; HTML tags stripped); '' for images."
    if o.get('output_type') == 'stream': return o.get('text', '')
    d = o.get('data', {})
    if 'text/markdown' in d: return d['text/markdown']
    if 'text/html' in d: return html.unescape(re.sub(r'<[^>]+>', ' ', d['text/html']))
    return d.get('text/plain', '') if o.get('output_type') in ('execute_result', 'display_data') else ''


def visible_texts(nb):
    """(cell index, kind, text) for what the page shows of a processed notebook: 'prose' (markdown cells),
    'code' (shown code, without `#|` lines) and 'output'. Cells nbdev hid (#| hide) are already gone;
    `#| include: false` hides a cell, `#| echo: false` its code, `#| output: false` its outputs."""
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'markdown': yield i, 'prose', c.source
        if c.cell_type != 'code': continue
        opts = cell_options(c.source)
        if opts.get('include') == 'false': continue
        if opts.get('echo') != 'false':
            code = '\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith('#|'))
            if code.strip(): yield i, 'code', code
        if opts.get('output') != 'false':
            for o in c.get('outputs', []): yield i, 'output', o


def snippet(text, start, end, pad=40):
    "One line of context around text[start:end]."
    return ' '.join(text[max(0, start - pad):end + pad].split())


# Words that belong to how the project was built, not to a chapter for a reader learning VAEs. Each
# entry: (regex, flags, where it counts). 'all': prose, outputs and code (a path into ../shared is wrong
# anywhere); 'text': prose and printed outputs only, not code nor code inside Markdown (a `target:Tensor`
# argument in a signature is fine). Curated: "target" and "seed" have honest meanings ("the target image",
# "renamed over the target", `seed=0`, "random seeds") that must not be hit, so only goal-like uses are listed.
_I = re.I
BUILD_WORDS = [
    (r'\bthe issue\b', _I, 'all'), (r'\bissue says\b', _I, 'all'), (r'\bthe brief\b', _I, 'all'),
    (r'\bgoals? (?:met|reached|achieved)\b', _I, 'all'), (r'\bgoals?\s*:', _I, 'text'),
    (r'\bour build\b', _I, 'all'), (r'\bbuild machines?\b', _I, 'all'), (r'\bthese machines\b', _I, 'all'),
    (r'\bother jobs\b', _I, 'all'), (r'\bshared (?:\d+-core )?CPU\b', _I, 'all'),
    (r'\.\./shared\b', _I, 'all'), (r'\bSEEDS\b', 0, 'all'),               # the file; "random seeds" is fine
    (r'\bseeds? ?00\d\b', _I, 'all'),          # "seed 001", "Seed 004's", "seed004 AE"; not seed001_upscaler
    (r'\bsources? 00\d\b', _I, 'all'),          # "source 002": the build's numbering of the write-ups
    (r'\btargets?\s*:', _I, 'text'),             # "(target: +6 dB)"
    (r'\btargets? (?:of|was|is|were|are) [+-]?\d', _I, 'text'),
    (r'\b(?:past|meets?|met|reach(?:es|ed)?|beats?|hits?|miss(?:es|ed)?|exceeds?|exceeded|above|below) '
     r'(?:the|a|our) (?:[+-]?[\d.]+ ?\w+ )?targets?\b(?! (?:images?|digits?|pixels?|values?|distributions?))', _I, 'text'),
    (r'\b(?:our|the project\'s|on) target\b', _I, 'text'), (r'\btargets? (?:met|reached|hit|missed)\b', _I, 'text'),
    # how the page was made: its tests, its tags, its runs
    (r'\btests? skips?\b', _I, 'text'), (r'\bhidden tests?\b', _I, 'text'), (r'\bsmall enough for the tests\b', _I, 'text'),
    (r'\bwhen this page was (?:made|written|built|run)\b', _I, 'text'), (r'\b(?:an? |the )?earlier runs?\b', _I, 'text'),
    (r'\bwe tried\b', _I, 'text'), (r'\btrials?\b', _I, 'text'), (r'seed00', _I, 'all'), (r'#\| ', 0, 'all'),
]
BUILD_WORDS = [(re.compile(rx, fl), where) for rx, fl, where in BUILD_WORDS]
CODE_SPANS = re.compile(r'^(\s*)(```+|~~~+)[^\n]*\n.*?^\1\2\s*$|`[^`\n]+`', re.S | re.M)


def build_word_problems(nb):
    "Problems for build words in what a reader sees, each with its context."
    probs = []
    for i, kind, item in visible_texts(nb):
        text = output_text(item) if kind == 'output' else item
        markdown = kind == 'prose' or (kind == 'output' and 'text/markdown' in item.get('data', {}))
        words = CODE_SPANS.sub(' ', text) if markdown else None if kind == 'code' else text
        for rx, where in BUILD_WORDS:
            t = text if where == 'all' else words
            if t is None: continue
            for m in rx.finditer(t):
                probs.append(f"build words: '{m.group(0)}' in cell {i} ({kind}): ...{snippet(t, m.start(), m.end())}...")
    return probs


def stderr_problems(nb):
    "Problems for stderr streams (warnings, logging) shown on the page."
    probs = []
    for i, kind, item in visible_texts(nb):
        if kind == 'output' and item.get('output_type') == 'stream' and item.get('name') == 'stderr':
            first = next((l.strip() for l in item.get('text', '').splitlines() if l.strip()), '')
            probs.append(f"stderr shown in cell {i}: {first[:120]}")
    return probs


FENCE = re.compile(r'^([ \t]*)(```+|~~~+)[^\n]*\n(.*?)^\1\2[ \t]*$', re.S | re.M)  # indentation: spaces, not newlines


def pre_lines(nb):
    "(cell index, kind, line) for every line the page shows in a <pre> block: shown code, text outputs, fenced code."
    for i, kind, item in visible_texts(nb):
        if kind == 'code': texts = [item]
        elif kind == 'prose': texts = [m.group(3) for m in FENCE.finditer(item)]
        else:
            d = item.get('data', {})
            if item.get('output_type') == 'stream' or ('text/plain' in d and not {'text/markdown', 'text/html'} & set(d)
                                                       and not any(k.startswith('image/') for k in d)):
                texts = [output_text(item)]
            elif 'text/markdown' in d: texts, kind = [m.group(3) for m in FENCE.finditer(d['text/markdown'])], 'output'
            else: texts = []
        for t in texts:
            for line in t.expandtabs(4).splitlines(): yield i, kind, line


def wide_code_problems(nb, width):
    "Problems for lines in <pre> blocks longer than `width` characters: the reader must scroll sideways."
    probs = []
    for i, kind, line in pre_lines(nb):
        if kind == 'output': continue  # measured in the browser instead ("output cut off")
        if len(line.rstrip()) > width:
            probs.append(f"code too wide: {len(line.rstrip())} > {width} characters in cell {i} ({kind}): {line.strip()[:70]}...")
    return probs


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.urls = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'a' and a.get('href'): self.urls.append(a['href'])
        if tag == 'img' and a.get('src'): self.urls.append(a['src'])


def site_pages(nbs):
    "Page file names (e.g. 'vae.html') of every notebook in `nbs`, by nbdev's rule (number prefix dropped)."
    from nbdev.doclinks import _nbpath2html
    return {_nbpath2html(p.relative_to(nbs)).as_posix() for p in list_notebooks(nbs)}


def site_urls(cfg_dir):
    "(site URL prefix, {URL prefix: repository folder}) from settings.ini, for absolute links into this project."
    ini = configparser.ConfigParser(); ini.read(cfg_dir/'settings.ini')
    c = ini['DEFAULT']
    site = c.get('doc_host', '').rstrip('/') + '/' + c.get('doc_baseurl', '').strip('/') + '/'
    user, repo, branch = c.get('user'), c.get('repo'), c.get('branch', 'main')
    files = {f'https://raw.githubusercontent.com/{user}/{repo}/{branch}/': cfg_dir,
             f'https://github.com/{user}/{repo}/blob/{branch}/': cfg_dir,
             f'https://github.com/{user}/{repo}/tree/{branch}/': cfg_dir,
             f'https://colab.research.google.com/github/{user}/{repo}/blob/{branch}/': cfg_dir}
    return site, files


def tracked(path, cfg_dir):
    "True when git tracks `path` (or, outside a git checkout, when it exists)."
    r = subprocess.run(['git', '-C', str(cfg_dir), 'ls-files', '--error-unmatch', str(path)], capture_output=True)
    return r.returncode == 0 if (cfg_dir/'.git').exists() else path.exists()


def link_problems(html_text, nbs, cfg_dir):
    "Problems for absolute links into this project (site pages, files on GitHub, Colab) that lead nowhere."
    site, files = site_urls(cfg_dir)
    pages, probs = site_pages(nbs), []
    p = _Links(); p.feed(html_text)
    for url in dict.fromkeys(p.urls):
        path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
        if url.startswith(site):
            page = urllib.parse.unquote(url[len(site):]).split('#')[0].split('?')[0]
            if page and page != 'index.html' and page not in pages:
                probs.append(f"broken link: {url} (no notebook makes the page {page})")
            continue
        for prefix, root in files.items():
            if url.startswith(prefix):
                rel = urllib.parse.unquote(url[len(prefix):]).split('#')[0].split('?')[0]
                if rel and not tracked(root/rel, cfg_dir):
                    probs.append(f"broken link: {url} ({rel} is not a committed file of the repository)")
                break
    return probs


# ----------------------------------------------------------------------------- HTML, as Quarto writes it
# Quarto renders a notebook by turning its cells into pandoc markdown (code in ```` ```python ```` blocks inside
# `.cell` divs, outputs in `.cell-output` divs, `output: asis` markdown as it is) and running pandoc 3 on it. The
# page is rendered here the same way, with the same pandoc (3.x) and its default markdown extensions (smart
# punctuation: `--flag` in prose becomes an en dash; implicit figures: an image alone in a paragraph becomes a
# figure captioned with its alt text), into a page laid out as Quarto 1.7's cosmo website at 1280 px: a
# sidebar on the left, the text column (`--column` px, 680) and the table of contents on the right.
QUARTO_OPTION = re.compile(r'^#\|\s*([\w-]+)\s*:\s*(\S+)\s*$')

# Quarto's conditional content (`::: {.content-visible when-format="html"}`), the html branch; and Quarto's rule
# that a paragraph holding only a linked image with alt text is a figure too (pandoc alone makes figures of
# unlinked images only): the Colab badge written in markdown becomes a figure captioned "Open In Colab".
QUARTO_LUA = r"""
function Div(el)
  if el.classes:includes("content-visible") then
    local w, u = is_html(el.attributes["when-format"]), is_html(el.attributes["unless-format"])
    if w == false or u == true then return {} end
    return el.content
  end
  if el.classes:includes("content-hidden") then
    local w, u = is_html(el.attributes["when-format"]), is_html(el.attributes["unless-format"])
    if w == true or u == false then return {} end
    return el.content
  end
end
function Para(el)
  if #el.content == 1 and el.content[1].t == "Link" and #el.content[1].content == 1
     and el.content[1].content[1].t == "Image" and #el.content[1].content[1].caption > 0 then
    local img = el.content[1].content[1]
    return pandoc.Figure(pandoc.Plain({el.content[1]}), {pandoc.Plain(img.caption)})
  end
end
"""

# Quarto 1.7's cosmo rules that decide what a reader sees cut off (measured on the real build): the text column is
# 800 px wide at a 1280 px window with the sidebar and the table of contents; printed output is a `<pre><code>`
# that keeps its lines (`white-space: pre`) and scrolls inside its box unless the site's styles.css says otherwise;
# code cells wrap (`code-overflow: wrap`); images fit the column; display maths is as wide as it is.
QUARTO_CSS = """
html {{ font-size: 17px; }}  /* Quarto's $font-size-root */
body {{ margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        line-height: 1.5; color: #373a3c; }}
#quarto-sidebar {{ position: absolute; top: 0; left: 0; width: {side}px; padding: 1rem; box-sizing: border-box; }}
#quarto-margin-sidebar {{ position: absolute; top: 0; left: {toc_left}px; width: {toc}px; padding: 1rem;
                          box-sizing: border-box; font-size: .875rem; }}
main#quarto-document-content {{ width: {col}px; margin-left: {side}px; padding: 1rem 0; }}
pre {{ display: block; overflow: auto; white-space: pre; font-size: .875em; padding: .5rem; margin: 0 0 1rem;
       font-family: SFMono-Regular, Menlo, Monaco, Consolas, "Liberation Mono", "Courier New", monospace; }}
code {{ font-family: SFMono-Regular, Menlo, Monaco, Consolas, "Liberation Mono", "Courier New", monospace; }}
pre code {{ white-space: pre; word-break: normal; font-size: inherit; }}
div.sourceCode pre code, pre.sourceCode code {{ white-space: pre-wrap; }}
img {{ max-width: 100%; height: auto; }}
figure {{ margin: 0 0 1rem; }}
table {{ border-collapse: collapse; margin-bottom: 1rem; }}
td, th {{ padding: .25rem .5rem; border-bottom: 1px solid #dee2e6; }}
p.description {{ font-style: italic; }}
"""
PAGE_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{katex}/katex.min.css">
<script src="{katex}/katex.min.js"></script>
<script src="{katex}/contrib/{auto}"></script>
<style>{css}</style>
{site_css}
</head><body>
<nav id="quarto-sidebar">{sidebar}</nav>
<main id="quarto-document-content" class="content">
<header id="title-block-header"><h1 class="title">{title}</h1>{description}</header>
{body}
</main>
<nav id="quarto-margin-sidebar"><h2>On this page</h2>{toc}</nav>
<script>
window.__katexDone = false;
document.addEventListener("DOMContentLoaded", function () {{
  renderMathInElement(document.getElementById("quarto-document-content"), {{
    delimiters: [{{left: "\\\\[", right: "\\\\]", display: true}}, {{left: "\\\\(", right: "\\\\)", display: false}}],
    throwOnError: false, errorColor: "#cc0001"
  }});
  window.__katexDone = true;
}});
</script>
</body></html>
"""


def fenced(text, cls=''):
    "A fenced code block holding `text` (the fence longer than any backtick run inside)."
    n = max([3] + [len(m) + 1 for m in re.findall(r'`{3,}', text)])
    return f"{'`' * n}{' ' + cls if cls else ''}\n{text.rstrip(chr(10))}\n{'`' * n}"


def output_markdown(o, asis, img_dir, name):
    "Pandoc markdown for one output, as Quarto writes it."
    if o.get('output_type') == 'stream':
        return f"::: {{.cell-output .cell-output-{o.get('name', 'stdout')}}}\n{fenced(o.get('text', ''))}\n:::"
    if o.get('output_type') == 'error': return fenced('\n'.join(o.get('traceback', [])))
    d = o.get('data', {})
    for mime, ext in (('image/png', 'png'), ('image/jpeg', 'jpg'), ('image/gif', 'gif')):
        if mime in d:
            (img_dir/f'{name}.{ext}').write_bytes(base64.b64decode(d[mime]))
            return f"::: {{.cell-output .cell-output-display}}\n![]({img_dir.name}/{name}.{ext})\n:::"
    if 'image/svg+xml' in d:
        (img_dir/f'{name}.svg').write_text(d['image/svg+xml'])
        return f"::: {{.cell-output .cell-output-display}}\n![]({img_dir.name}/{name}.svg)\n:::"
    if 'text/markdown' in d:
        md = d['text/markdown']
        return md if asis else f"::: {{.cell-output .cell-output-display}}\n{md}\n:::"
    if 'text/html' in d: return f"::: {{.cell-output .cell-output-display}}\n{fenced(d['text/html'], '{=html}')}\n:::"
    if 'text/plain' in d: return f"::: {{.cell-output .cell-output-display}}\n{fenced(d['text/plain'])}\n:::"
    return ''


def page_markdown(nb, img_dir):
    "(front matter, pandoc markdown) of a processed notebook, as Quarto reads it."
    fm, parts = frontmatter(nb), []
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw': continue
        if c.cell_type == 'markdown':
            parts.append(c.source); continue
        opts = cell_options(c.source)
        if opts.get('include') == 'false': continue
        cell = []
        code = '\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith('#|')).strip('\n')
        if opts.get('echo') != 'false' and code.strip(): cell.append(fenced(code, '{.python .cell-code}'))
        if opts.get('output') != 'false':
            asis = opts.get('output') == 'asis'
            cell += [output_markdown(o, asis, img_dir, f'cell{i}_{k}') for k, o in enumerate(c.get('outputs', []))]
        shown_code = opts.get('echo') != 'false' and code.strip()
        if cell and not shown_code and opts.get('output') == 'asis':  # Quarto puts asis output (show_doc) in the page as it is
            parts.append('\n\n'.join(p for p in cell if p))
        elif cell: parts.append('::: {.cell}\n' + '\n\n'.join(p for p in cell if p) + '\n:::')
    return fm, '\n\n'.join(parts) + '\n'


def _quarto_lua()->str:
    "The Lua filter above, after make_readme's `is_html` (one reading of Quarto's format conditions for both tools)."
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_readme
    return make_readme.LUA_IS_HTML + QUARTO_LUA

def render_page(nb, page, katex_dir, pandoc, site_css, column):
    "Write `page` (HTML) for a processed notebook as the Quarto site lays it out."
    img_dir = page.parent/f'{page.stem}_files'
    img_dir.mkdir(exist_ok=True)
    fm, md = page_markdown(nb, img_dir)
    lua = page.parent/'quarto_like.lua'
    if not lua.exists(): lua.write_text(_quarto_lua())
    r = subprocess.run([pandoc, '--from', 'markdown', '--to', 'html5', '--section-divs', '--mathjax',
                        '--lua-filter', str(lua), '--wrap', 'none'], input=md, capture_output=True, text=True,
                       encoding='utf-8')
    if r.returncode != 0: raise SetupError(f"pandoc failed on {page.stem}: {r.stderr.strip()[:300]}")
    body = r.stdout
    heads = re.findall(r'<h([23])[^>]*id="([^"]*)"[^>]*>(.*?)</h\1>', body)
    heads += re.findall(r'<section id="([^"]*)" class="level([23])[^"]*">\s*<h\2[^>]*>(.*?)</h\2>', body)
    toc = ''.join(f'<div>{re.sub("<[^>]+>", "", h[-1])}</div>' for h in heads)
    auto = 'auto-render.min.js' if (katex_dir/'contrib/auto-render.min.js').exists() else 'auto-render.js'
    side, toc_w = 265, max(0, 1280 - 265 - column - 15)
    css = QUARTO_CSS.format(side=side, col=column, toc_left=side + column + 15, toc=toc_w)
    desc = fm.get('description')
    page.write_text(PAGE_TEMPLATE.format(
        title=html.escape(str(fm.get('title', page.stem))), katex=katex_dir.resolve().as_uri(), auto=auto, css=css,
        site_css=''.join(f'<link rel="stylesheet" href="{Path(s).resolve().as_uri()}">' for s in site_css),
        sidebar='', toc=toc, body=body,
        description=f'<p class="description">{html.escape(str(desc))}</p>' if desc else ''), encoding='utf-8')
    return md


def unexecuted(nb):
    "True when the notebook has code cells (other than show_doc) but none has a saved output."
    cells = [c for c in nb.cells if c.cell_type == 'code' and 'show_doc(' not in c.source]
    return bool(cells) and not any(c.get('outputs') for c in cells)


class _ImgSrcs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.srcs = []
    def handle_starttag(self, tag, attrs):
        if tag == 'img': self.srcs.append(dict(attrs).get('src') or '')


def is_remote(src): return bool(re.match(r'^(https?:)?//', src))


def missing_images(html_text, page_dir):
    "Problems for <img> tags whose local file does not exist, and pictures the site takes from GitHub."
    p = _ImgSrcs(); p.feed(html_text)
    probs = []
    for src in p.srcs:
        if not src: probs.append("image with empty src"); continue
        if re.match(r'^https?://(raw\.githubusercontent\.com|github\.com|user-images\.githubusercontent\.com)/', src) \
                and 'colab-badge' not in src:
            probs.append(f"image from GitHub: {src} (the site should serve its own pictures: use a relative "
                         "images/... path; README.md gets absolute links from make_readme)")
            continue
        if src.startswith('data:') or is_remote(src): continue
        u = urllib.parse.urlparse(src)
        path = Path(urllib.parse.unquote(u.path)) if u.scheme == 'file' else page_dir/urllib.parse.unquote(u.path)
        if not path.exists(): probs.append(f"missing image: {src}")
    return probs


# ----------------------------------------------------------------------------- signatures and prose
SIG_FENCE = re.compile(r'^```+\s*python\s*\n(\s*(?:async\s+)?(?:def|class)\s.*?)^```+\s*$', re.S | re.M)


def signature_problems(nb):
    "Problems in the signatures and docstrings nbdev's show_doc puts on the page."
    probs = []
    for i, kind, item in visible_texts(nb):
        if kind != 'output': continue
        md = item.get('data', {}).get('text/markdown', '')
        if not md: continue
        name = (re.search(r'^#{2,4}\s+(.+)$', md, re.M) or re.search(r'^', md)).group(0).lstrip('# ').strip() or '?'
        for m in SIG_FENCE.finditer(md):
            sig = m.group(1).strip()
            flat = ' '.join(sig.split())
            def add(what): probs.append(f"signature: {what} in {name} (cell {i}): {flat[:110]}")
            if 'NoneType' in sig: add("`NoneType` (write `x:str=None`, not `x:str|None=None`)")
            if re.search(r'VAR_(?:POSITIONAL|KEYWORD)', sig):
                add("`VAR_POSITIONAL`/`VAR_KEYWORD` (an exception class: a docstring-only class; `**kwargs`: show_doc(f, name=...) "
                    "with the keywords in the prose, or named parameters)")
            if '`' in sig or re.search(r'\]\(https?://', sig): add("raw markdown (backticks or a link) in a docment")
            if re.search(r'\(\s+\)', sig): add("empty `( )`")
            if re.search(r'(?<![\w*])(?:args|kwargs)\s*:', sig) or re.search(r':\s*Any\b', sig):
                add("`*args`/`**kwargs` shown without their stars, as `name:Any` (settings.ini's renderer "
                    "vae_nbs.autoencoder._doc_renderer writes them)")
            if re.search(r':\s*Optional\b(?!\[)', sig): add("a bare `Optional` (write `x:tuple=None`)")
            if re.search(r'VAR_KEYWORD\s*\)\s*(?:->\s*[^:\n]+)?:[ \t]*#', sig):
                add("the `**kwargs` docment shown as a comment after the `)->Type:`")
        if md.lstrip().startswith('---') and SIG_FENCE.search(md) and '[source](' not in md:
            probs.append(f"signature: {name} has no source link (cell {i}): nbdev cannot find it in _modidx.py "
                         "(a @patch over another decorator: put the decorator's work inside the function)")
        after = md[md.rfind('```') + 3:] if '```' in md else md
        doc = re.search(r'^\*(.+)\*\s*$', after, re.M)
        if doc and '*' in doc.group(1):
            probs.append(f"signature: a `*` inside the docstring of {name} breaks its italics (cell {i}): {doc.group(1)[:80]}")
    return probs


COLAB_MD = re.compile(r'^\s*\[!\[([^\]]+)\]\(([^)\s]*colab-badge[^)\s]*)\)\]\(([^)\s]+)\)\s*$', re.M)


def badge_problems(nb):
    "The Colab badge written in markdown, alone in a paragraph: Quarto makes it a figure captioned with its alt text."
    probs = []
    for i, kind, text in visible_texts(nb):
        if kind != 'prose': continue
        for para in re.split(r'\n\s*\n', text):
            m = COLAB_MD.fullmatch(para.strip())
            if m:
                probs.append(f"Colab badge as a figure captioned '{m.group(1)}' (cell {i}): write it as raw HTML, "
                             f'<a href="{m.group(3)}"><img src="{m.group(2)}" alt="{m.group(1)}"></a>')
    return probs


def prose_text_problems(text):
    "Problems in the page's text (code, maths excluded) as the browser shows it: flags typeset as en dashes."
    probs = []
    for m in re.finditer(r'(?<![\w\u2013-])\u2013[A-Za-z][\w-]*', text):
        probs.append(f"flag shown as an en dash: '{m.group(0)}' (write `--flag` in backticks): "
                     f"...{snippet(text, m.start(), m.end(), 30)}...")
    return probs


# ----------------------------------------------------------------------------- the site as a whole
def read_ini(cfg_dir):
    ini = configparser.ConfigParser(); ini.read(cfg_dir/'settings.ini')
    return ini['DEFAULT']


def page_of(nb_rel):
    "Page file name nbdev gives a notebook (e.g. 03a_metrics.ipynb -> metrics.html)."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(Path(nb_rel)).as_posix()


HOME_ITEM = re.compile(r'^\s*[-*]\s+\*\*([0-9]+[a-z]?)\*\*\s+\[([^\]]+)\]\(([^)\s]+)\)', re.M)


def home_chapters(nbs):
    "[(number, name, page)] of the home page's chapter list ('- **3a** [Name](.../metrics.html) ...')."
    p = nbs/'index.ipynb'
    if not p.exists(): return []
    nb = nbformat.read(p, as_version=4)
    out = []
    for c in nb.cells:
        if c.cell_type != 'markdown': continue
        for num, name, url in HOME_ITEM.findall(c.source):
            out.append((num, name, urllib.parse.urlparse(url).path.rsplit('/', 1)[-1].split('#')[0]))
    return out


def sidebar_entries(nbs):
    "[(text, href)] of the committed nbs/sidebar.yml (a custom sidebar), or None when there is none."
    p = nbs/'sidebar.yml'
    if not p.exists(): return None
    y = yaml.safe_load(p.read_text()) or {}
    out = []
    def walk(items):
        for it in items or []:
            if isinstance(it, str): out.append((None, it))
            elif isinstance(it, dict) and 'contents' in it: walk(it['contents'])
            elif isinstance(it, dict): out.append((it.get('text'), it.get('href') or it.get('file')))
    walk(((y.get('website') or {}).get('sidebar') or {}).get('contents'))
    return out


def sidebar_problems(nbs, cfg_dir, expected=()):
    "The sidebar (numbers and names) agrees with the home page's chapter list, and every file in it exists."
    c, probs = read_ini(cfg_dir), []
    entries = sidebar_entries(nbs)
    if c.get('custom_sidebar', 'False').lower() != 'true' or entries is None:
        return ["sidebar: nbdev writes the sidebar from file names (no chapter numbers): set custom_sidebar = True "
                "in settings.ini and commit nbs/sidebar.yml"]
    home = {page: (num, name) for num, name, page in home_chapters(nbs)}
    if not home: probs.append("sidebar: the home page (nbs/index.ipynb) has no chapter list ('- **N** [Name](page.html)')")
    seen = set()
    for text, href in entries:
        if not href: probs.append(f"sidebar: entry {text!r} has no href"); continue
        if not (nbs/href).exists() and Path(href).name not in expected:
            probs.append(f"sidebar: {href} does not exist")
        if Path(href).stem == 'index': continue
        page = page_of(href)
        seen.add(page)
        if page not in home: probs.append(f"sidebar: {href} ({text!r}) is not in the home page's chapter list"); continue
        num, name = home[page]
        if (text or '').strip() != f'{num} {name}':
            probs.append(f"sidebar: {href} reads {text!r}; the home page lists it as {num} {name!r}")
    for page, (num, name) in home.items():
        if page not in seen: probs.append(f"sidebar: chapter {num} {name!r} ({page}) of the home page is not in the sidebar")
    return probs


def quarto_yml_problems(nbs, cfg_dir):
    "'View source' must open the notebook: _quarto.yml's repo-subdir names the notebooks folder."
    p, probs = nbs/'_quarto.yml', []
    if not p.exists(): return ["_quarto.yml: missing"]
    y = yaml.safe_load(p.read_text()) or {}
    web = y.get('website') or {}
    nbs_path = read_ini(cfg_dir).get('nbs_path', 'nbs').strip('/')
    if 'source' in (web.get('repo-actions') or []) and str(web.get('repo-subdir', '')).strip('/') != nbs_path:
        probs.append(f"_quarto.yml: 'View source' links point at the repository root (blob/main/00_data.ipynb, a 404): "
                     f"add `repo-subdir: {nbs_path}` under website:")
    return probs


def css_problems(nbs):
    "styles.css must make printed output wrap and wide display maths scroll inside the text column."
    p = nbs/'styles.css'
    css = re.sub(r'/\*.*?\*/', '', p.read_text(), flags=re.S) if p.exists() else ''
    probs = []
    rules = re.findall(r'([^{}]+)\{([^}]*)\}', css)
    if not any(re.search(r'\.cell-output[^,{]*\bcode\b', sel) and re.search(r'white-space\s*:\s*pre-wrap', body)
               for sel, body in rules):
        probs.append("styles.css: no rule makes printed output wrap (Quarto sets `white-space: pre` on the "
                     "<code> inside output blocks): add `.cell-output pre, .cell-output code {white-space: pre-wrap; "
                     "word-break: break-word}`")
    if not any('.katex-display' in sel and re.search(r'overflow-x\s*:\s*auto', body) for sel, body in rules):
        probs.append("styles.css: wide display maths runs under the table of contents: add "
                     "`.katex-display {overflow-x: auto; overflow-y: hidden}`")
    return probs


def modidx_problems(nbs, cfg_dir, notebooks):
    "A page with exported symbols has doc and source links: its module's entry in _modidx.py is not empty."
    c = read_ini(cfg_dir)
    lib = c.get('lib_name', c.get('repo', ''))
    p = cfg_dir/c.get('lib_path', lib)/'_modidx.py'
    if not p.exists(): return {}
    ns = {}
    try: exec(compile(p.read_text(), str(p), 'exec'), ns)
    except Exception as e: return {'site': [f"_modidx.py cannot be read: {e}"]}
    syms = (ns.get('d') or {}).get('syms', {})
    out = {}
    for nbp in notebooks:
        nb = nbformat.read(nbp, as_version=4)
        exp = next((m.group(1) for cell in nb.cells if cell.cell_type == 'code'
                    for m in [re.search(r'^#\|\s*default_exp\s+(\S+)', cell.source, re.M)] if m), None)
        if not exp: continue
        exported = any(re.search(r'^#\|\s*export', cell.source, re.M) for cell in nb.cells if cell.cell_type == 'code')
        mod = f'{lib}.{exp}'
        if exported and not syms.get(mod):
            why = (" (nbdev 2.4.14 skips notebooks whose path contains 'auto': rename the notebook)"
                   if 'auto' in nbp.name else " (run nbdev_export)")
            out.setdefault(nbp.relative_to(nbs).with_suffix('').as_posix(), []).append(
                f"doc links: `{mod}` has no entry in _modidx.py, so its page has no doc or source links{why}")
    return out


def link_target_problems(pages, site, only_some, expected=()):
    """Links with no target: `#id` on the page, `page.html#id` and absolute site links to a page of the site
    whose id is missing. `pages`: {page file: (ids, hrefs)} of every page checked."""
    out = {}
    for page, (ids, hrefs) in pages.items():
        for href in dict.fromkeys(hrefs):
            if not href: out.setdefault(page, []).append("link with no target: an empty href"); continue
            url = href[len(site):] if href.startswith(site) else href
            if re.match(r'^[a-z][a-z0-9+.-]*:', url, re.I): continue  # another site, file:, mailto:
            path, _, frag = url.partition('#')
            path = urllib.parse.unquote(path.split('?')[0])
            target = page if not path else 'index.html' if path in ('', './') else \
                page_of(path) if path.endswith('.ipynb') else path
            if target not in pages:
                if target in expected: continue
                if not only_some and not href.startswith(site) and target.endswith('.html'):
                    out.setdefault(page, []).append(f"link with no target: {href} (no page {target})")
                continue
            if frag and urllib.parse.unquote(frag) not in pages[target][0]:
                out.setdefault(page, []).append(f"link with no target: {href} (no #{frag} on {target})")
    return out


# ----------------------------------------------------------------------------- browser
class Chromium:
    "Headless Chromium driven through the DevTools protocol over a pipe (no extra packages)."
    FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--allow-file-access-from-files', '--hide-scrollbars', '--mute-audio',
             '--remote-debugging-pipe', 'about:blank']

    def __init__(self, exe, profile, log):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # Move the child's ends above fd 9 so the shell's 3<&N 4>&M redirections cannot clobber them.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        os.close(to_chrome_r); os.close(from_chrome_w)
        to_chrome_r, from_chrome_w = high
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        shell = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-'
        self.proc = subprocess.Popen(['bash', '-c', shell, exe, f'--user-data-dir={profile}', *self.FLAGS],
                                     pass_fds=(to_chrome_r, from_chrome_w), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        os.close(to_chrome_r); os.close(from_chrome_w)
        self._buf, self._id, self.events = b'', 0, []
        tid = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=tid, flatten=True)['sessionId']
        self.send('Page.enable', session=True)
        self.send('Runtime.enable', session=True)

    def _read(self, timeout):
        "Next message from Chromium, or None after `timeout` seconds."
        end = time.monotonic() + timeout
        while b'\0' not in self._buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]: return None
            chunk = os.read(self._r, 1 << 20)
            if not chunk: raise SetupError("chromium exited (see its log in the output folder)")
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, session=False, timeout=60, **params):
        "Send one command and wait for its result (events met meanwhile go to self.events)."
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params}
        if session: msg['sessionId'] = self.session
        os.write(self._w, json.dumps(msg).encode() + b'\0')
        end = time.monotonic() + timeout
        while True:
            m = self._read(max(0.0, end - time.monotonic()))
            if m is None: raise SetupError(f"chromium did not answer {method} within {timeout}s")
            if m.get('id') == self._id:
                if 'error' in m: raise SetupError(f"chromium: {method}: {m['error'].get('message')}")
                return m.get('result', {})
            self.events.append(m)

    def wait_event(self, name, timeout):
        "Wait for event `name`; True if it came."
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get('method') == name: del self.events[i]; return True
            m = self._read(max(0.0, end - time.monotonic()))
            if m is None: return False
            self.events.append(m)

    def eval(self, expr, timeout=60):
        r = self.send('Runtime.evaluate', session=True, timeout=timeout, expression=expr,
                      awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in r: raise SetupError(f"page script failed: {r['exceptionDetails'].get('text')}")
        return r['result'].get('value')

    def close(self):
        try: self.send('Browser.close', timeout=5)
        except (SetupError, OSError): pass
        try: self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        for fd in (self._r, self._w):
            try: os.close(fd)
            except OSError: pass


# Runs in the page after load: waits for images, fonts and KaTeX, then reports what a reader would see.
PAGE_CHECK_JS = r"""
(async () => {
  for (let i = 0; i < 100 && !window.__katexDone; i++) await new Promise(r => setTimeout(r, 100));
  await Promise.all([...document.images].map(img => img.complete ? null :
        new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 5000); })));
  await document.fonts.ready;
  const main = document.getElementById('quarto-document-content');
  const col = main.clientWidth;
  const local = s => !/^(https?:)?\/\//.test(s);
  const broken = [...document.images].filter(i => local(i.getAttribute('src') || '') && i.naturalWidth === 0)
                     .map(i => (i.getAttribute('src') || '').slice(0, 100));
  const katexErrors = [...document.querySelectorAll('.katex-error')]
                     .map(e => (e.getAttribute('title') || 'KaTeX error') + ' in: ' + e.textContent.slice(0, 80));
  // KaTeX draws what it cannot typeset (e.g. an unknown macro) in errorColor #cc0001.
  const katexRed = [...document.querySelectorAll('.katex [style*="color"]')]
                     .filter(e => getComputedStyle(e).color === 'rgb(204, 0, 1)')
                     .map(e => 'KaTeX cannot typeset: ' + e.textContent.slice(0, 80));
  // Printed output cut at the right edge of its box (the reader has to scroll it sideways, or cannot).
  const cut = [...main.querySelectorAll('.cell-output pre')].filter(p => p.scrollWidth > p.clientWidth + 1).map(p => {
      const lines = p.textContent.split('\n'), longest = lines.reduce((a, b) => b.length > a.length ? b : a, '');
      const code = p.querySelector('code');
      return {w: p.scrollWidth, cw: p.clientWidth, n: longest.length, line: longest.trim().slice(0, 70),
              ws: getComputedStyle(code || p).whiteSpace};
  });
  // Display maths wider than the text column: cut off, or running under the table of contents.
  const maths = [...main.querySelectorAll('.katex-display')].filter(d => d.scrollWidth > col + 1).map(d => {
      const a = d.querySelector('annotation');
      return {w: d.scrollWidth, tex: (a ? a.textContent : d.textContent).replace(/\s+/g, ' ').trim().slice(0, 70),
              scrolls: ['auto', 'scroll'].includes(getComputedStyle(d).overflowX)};
  });
  const wideTables = [...main.querySelectorAll('table')].filter(t => t.getBoundingClientRect().width > col + 1)
      .map(t => ({w: Math.round(t.getBoundingClientRect().width), text: t.textContent.replace(/\s+/g, ' ').trim().slice(0, 60)}));
  // A paragraph ending with ':' that nothing follows, or that a heading follows.
  // A reference entry (show_doc's rule, then its heading) may follow a paragraph that introduces that entry.
  const heads = [...main.querySelectorAll('h2, h3, h4')];
  const colons = [...main.querySelectorAll('p')].filter(p => {
      if (!['MAIN', 'SECTION', 'DIV'].includes(p.parentElement.tagName)) return false;
      if (!/:\s*$/.test(p.textContent)) return false;
      const n = p.nextElementSibling;
      if (n && n.tagName === 'HR') {
          const h = heads.find(h => p.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING);
          const name = h ? h.textContent.trim().split(/\s/)[0].split('.').pop() : '';
          return !(name && p.textContent.includes(name));
      }
      return !n || /^(H[1-6]|SECTION)$/.test(n.tagName);
  }).map(p => p.textContent.replace(/\s+/g, ' ').trim().slice(-90));
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const hrefs = [...main.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, .katex, .katex-error').forEach(e => e.remove());
  return {katexLoaded: typeof katex !== 'undefined' && typeof renderMathInElement !== 'undefined',
          katexDone: !!window.__katexDone, broken, katexErrors: katexErrors.concat(katexRed), text: clone.textContent,
          nKatex: document.querySelectorAll('.katex').length, col, cut, maths, wideTables, colons, ids, hrefs,
          height: Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))};
})()
"""

RAW_TEX = [
    (re.compile(r'\$\$'), "raw $$ (display maths not typeset)"),
    (re.compile(r'\\\(|\\\[|\\begin\{'), "raw \\( \\[ or \\begin (maths not typeset)"),
    (re.compile(r'\$[^$\s][^$\n]*?(\\[A-Za-z]+|[_^{}])[^$\n]*?\$'), "raw $...$ (inline maths not typeset)"),
    (re.compile(r'\\(?:frac|mathbf|mathcal|mathrm|sum|prod|int|log|exp|mu|sigma|theta|phi|alpha|beta|'
                r'epsilon|lambda|left|right|cdot|sqrt|hat|tilde|bar|operatorname|mathbb|text|approx|leq|geq)'
                r'(?![A-Za-z])'), "TeX command shown as text (maths delimiters missing, or eaten by Markdown: use $...$ or $$...$$)"),
]


def raw_tex_problems(text):
    "Problems for TeX left visible in the page text (code excluded)."
    probs = []
    for rx, what in RAW_TEX:
        if probs and rx is RAW_TEX[-1][0]: break  # a TeX command inside raw delimiters is already reported
        m = rx.search(text)
        if m:
            snip = ' '.join(text[max(0, m.start() - 30):m.end() + 30].split())
            probs.append(f"unrendered equation: {what}: ...{snip}...")
    return probs


def check_in_browser(browser, page, shot, width, timeout):
    "Load `page`, check it as a reader sees it, save a full-page screenshot; returns (problems, note, ids, hrefs)."
    browser.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=900,
                 deviceScaleFactor=1, mobile=False)
    browser.events.clear()
    browser.send('Page.navigate', session=True, url=page.resolve().as_uri())
    if not browser.wait_event('Page.loadEventFired', timeout):
        return [f"page did not finish loading within {timeout}s"], '', set(), []
    r = browser.eval(PAGE_CHECK_JS, timeout=timeout)
    probs = [f"image failed to load in the browser: {s}" for s in r['broken']]
    if not (r['katexLoaded'] and r['katexDone']): probs.append("KaTeX did not load or run: no equation can be typeset")
    probs += [f"unrendered equation: {e}" for e in dict.fromkeys(r['katexErrors'])]
    probs += raw_tex_problems(r['text'])
    probs += [f"output cut off: a {o['n']}-character line is {o['w']} px in a {o['cw']} px box (white-space: {o['ws']}; "
              f"styles.css must make outputs wrap): {o['line']}" for o in r['cut']]
    probs += [f"maths wider than the text column: {m['w']} px > {r['col']} px"
              f"{' (scrolls sideways)' if m['scrolls'] else ' (runs under the table of contents)'}: "
              f"split it over lines (aligned) or shorten it: {m['tex']}" for m in r['maths']]
    probs += [f"table wider than the text column: {t['w']} px > {r['col']} px: {t['text']}" for t in r['wideTables']]
    probs += [f"colon with nothing after it: a paragraph ends with ':' and then a heading or nothing: ...{c}"
              for c in r['colons']]
    probs += prose_text_problems(r['text'])
    height = min(r['height'], MAX_SHOT_HEIGHT)
    if shot is not None:
        browser.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height,
                     deviceScaleFactor=1, mobile=False)
        png = browser.send('Page.captureScreenshot', session=True, timeout=timeout, format='png',
                           captureBeyondViewport=True,
                           clip={'x': 0, 'y': 0, 'width': width, 'height': height, 'scale': 1})['data']
        shot.write_bytes(base64.b64decode(png))
    note = f"{width}x{r['height']}px, {r['nKatex']} equations"
    return probs, note, set(r['ids']), r['hrefs']


# ----------------------------------------------------------------------------- main
PROBLEM_KINDS = [('build words', 'build words'), ('stderr', 'stderr shown'), ('wide code', 'code too wide'),
                 ('cut output', 'output cut off'), ('wide maths', ('maths wider', 'table wider')),
                 ('signature', 'signature'), ('en dash', 'flag shown'), ('colon', 'colon with'),
                 ('links', ('broken link', 'link with no target', 'doc links')),
                 ('badge', 'Colab badge'), ('images', ('missing image', 'image failed', 'image with', 'image from')),
                 ('maths', ('unrendered equation', 'KaTeX')), ('errors', ('error output', 'traceback', 'nbdev'))]


def problem_table(counts):
    "A table of problem counts per page and kind."
    names = [k for k, _ in PROBLEM_KINDS] + ['other']
    def kind(p): return next((k for k, pre in PROBLEM_KINDS if p.startswith(pre)), 'other')
    w = max([len('page'), *map(len, counts)])
    widths = [max(len(n), 3) for n in names]
    rows = [f"{'page':{w}}  " + ' '.join(f'{n:>{x}}' for n, x in zip(names, widths)) + '  total']
    for page, probs in counts.items():
        ks = [kind(p) for p in probs]
        rows.append(f"{page:{w}}  " + ' '.join(f'{ks.count(n):>{x}}' for n, x in zip(names, widths)) + f'  {len(probs):>5}')
    return '\n'.join(rows)


def find_pandoc_here(install=True):
    "pandoc 3 (as make_readme finds it); with `install`, pip installs pypandoc_binary into a cache folder."
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_readme
    try: return make_readme.find_pandoc()
    except make_readme.ReadmeError as e: err = e
    cache = Path(os.environ.get('XDG_CACHE_HOME', Path.home()/'.cache'))/'vae_nbs_pandoc'
    exe = cache/'pypandoc'/'files'/'pandoc'
    if install and not exe.exists():
        print(f"check_site: installing pandoc 3 ({make_readme.PYPANDOC_PIN}) into {cache} ...", flush=True)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--target', str(cache), make_readme.PYPANDOC_PIN],
                       stdout=subprocess.DEVNULL)
    if exe.exists(): return str(exe)
    raise SetupError(str(err))


def check_site(nbs, out, only=(), chromium=None, katex=None, install=True, width=1280, timeout=60, keep=False,
               code_width=CODE_WIDTH, column=COLUMN, expect=(), shots=True):
    "Check the pages of `nbs`; writes screenshots to `out`; returns the number of problems."
    nbs = Path(nbs).resolve()
    if not nbs.is_dir(): raise SetupError(f"--nbs {nbs}: not a folder")
    notebooks = select_notebooks(nbs, only)
    if not notebooks: raise SetupError(f"no notebooks in {nbs}")
    cfg_dir = find_config(nbs)
    exe, katex_dir = ensure_tools(chromium, katex, install)
    pandoc = find_pandoc_here(install)
    out = Path(out).resolve(); out.mkdir(parents=True, exist_ok=True)
    if not only:  # a full run replaces the previous screenshots
        for old in out.glob('*.png'): old.unlink()
    site_css = [nbs/'styles.css'] if (nbs/'styles.css').exists() else []
    site, _ = site_urls(cfg_dir)
    expect_pages = {page_of(e) for e in expect}
    tmp = Path(tempfile.mkdtemp(prefix='check_site_'))
    counts, notes, pages, names = {}, {}, {}, {}
    t0 = time.monotonic()
    try:
        print(f"check_site: processing {len(notebooks)} notebook(s) with nbdev ...", flush=True)
        procd = process_notebooks(nbs, notebooks, cfg_dir, tmp)
        with open(out/'chromium.log', 'w') as log:
            browser = Chromium(exe, tmp/'profile', log)
            try:
                for src in notebooks:
                    name = src.relative_to(nbs).with_suffix('').as_posix()
                    dst, probs, proc_note = procd[src]
                    note = ''
                    if dst is not None:
                        nb = nbformat.read(dst, as_version=4)
                        probs = output_errors(nb) + stderr_problems(nb) + build_word_problems(nb)
                        probs += wide_code_problems(nb, code_width) + signature_problems(nb) + badge_problems(nb)
                        page_name = page_of(src.relative_to(nbs))
                        page = dst.parent/page_name
                        render_page(nb, page, katex_dir, pandoc, site_css, column)
                        html_text = page.read_text(encoding='utf-8')
                        probs += missing_images(html_text, page.parent)
                        probs += [p for p in link_problems(html_text, nbs, cfg_dir)
                                  if not any(f'the page {e})' in p for e in expect_pages)]
                        shot = out/(name.replace('/', '__') + '.png') if shots else None
                        bprobs, note, ids, hrefs = check_in_browser(browser, page, shot, width, timeout)
                        probs += [p for p in bprobs if not (p.startswith('image failed') and
                                  any(q.startswith('missing image') and p.split(': ', 1)[1] in q for q in probs))]
                        pages[page_name], names[page_name] = (ids, hrefs), name
                        if unexecuted(nb): note += "; note: no saved outputs, so no figures (notebook not executed?)"
                    counts[name], notes[name] = probs, note + proc_note
            finally:
                browser.close()
    finally:
        if keep: print(f"check_site: kept processed notebooks and HTML in {tmp}")
        else: shutil.rmtree(tmp, ignore_errors=True)
    for page, probs in link_target_problems(pages, site, bool(only), expect_pages).items():
        counts[names[page]] += probs
    for name, probs in modidx_problems(nbs, cfg_dir, notebooks).items():
        counts.setdefault(name, []).extend(probs)
    if not only:
        counts['site'] = quarto_yml_problems(nbs, cfg_dir) + css_problems(nbs) + sidebar_problems(nbs, cfg_dir, expect)
        notes['site'] = '_quarto.yml, styles.css, settings.ini, sidebar.yml'
    lines = []
    for name, probs in counts.items():
        note = notes.get(name, '')
        line = (f"OK    {name}  ({note.lstrip('; ')})" if not probs else
                f"FAIL  {name}: {len(probs)} problem(s)" + (f" ({note.lstrip('; ')})" if note else '') +
                ''.join(f"\n      - {p}" for p in probs))
        print(line, flush=True); lines.append(line)
    n_problems = sum(map(len, counts.values()))
    table = problem_table(counts)
    summary = f"site check: {len(notebooks)} pages, {n_problems} problems ({time.monotonic() - t0:.0f} s)"
    print(table); print(summary)
    (out/'report.txt').write_text('\n'.join(lines + [table, summary]) + '\n')
    return n_problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog="example: python tools/check_site.py --only 09_cli index --no-shots")
    ap.add_argument('--nbs', default=str(REPO/'nbs'), help="notebooks folder (default: nbs/ of this repo)")
    ap.add_argument('--out', default=str(REPO/'site_check'), help="folder for screenshots and report.txt (default: site_check/ of this repo)")
    ap.add_argument('--only', nargs='+', default=[], metavar='NAME',
                    help="check only these notebooks (stem, file name or glob, e.g. index 02_vae '0*'); "
                         "the site-wide checks (sidebar, _quarto.yml, styles.css) run only without --only")
    ap.add_argument('--expect', nargs='+', default=[], metavar='NOTEBOOK',
                    help="notebooks that another branch adds (e.g. 01_ae.ipynb): links and sidebar entries to them count as fine")
    ap.add_argument('--chromium', help="Chromium executable (default: $CHROMIUM or chromium on PATH)")
    ap.add_argument('--katex', help="KaTeX dist folder (default: $KATEX_DIR or /usr/share/javascript/katex)")
    ap.add_argument('--no-install', action='store_true', help="never install missing tools (apt-get, pip)")
    ap.add_argument('--no-shots', action='store_true', help="save no screenshots (faster)")
    ap.add_argument('--width', type=int, default=1280, help="window width in px (default: 1280)")
    ap.add_argument('--column', type=int, default=COLUMN,
                    help=f"width of the text column in px, Quarto's at a 1280 px window (default: {COLUMN})")
    ap.add_argument('--code-width', type=int, default=CODE_WIDTH,
                    help=f"longest line a code block shows (default: {CODE_WIDTH})")
    ap.add_argument('--timeout', type=int, default=60, help="seconds allowed per page (default: 60)")
    ap.add_argument('--keep', action='store_true', help="keep the temporary processed notebooks and HTML")
    a = ap.parse_args(argv)
    try:
        n = check_site(a.nbs, a.out, a.only, a.chromium, a.katex, not a.no_install, a.width, a.timeout, a.keep,
                       a.code_width, a.column, a.expect, not a.no_shots)
    except SetupError as e:
        print(f"check_site: error: {e}", file=sys.stderr)
        return 2
    return 1 if n else 0


if __name__ == '__main__':
    sys.exit(main())
