#!/usr/bin/env python
"""Check the documentation site on a machine without Quarto.

For every notebook under `--nbs` this script

1. runs nbdev's docs processing (`nbdev.serve.proc_nbs`, the step behind `nbdev_proc_nbs`) on a
   temporary copy of `settings.ini` and the notebooks folder, so nothing is written into the repo;
2. renders each processed notebook to HTML with nbconvert's `HTMLExporter` (lab template), with the
   page title/description from nbdev's front matter and KaTeX for the maths (the site's
   `_quarto.yml` uses `html-math-method: katex`, so the same renderer is used here);
3. opens each page in headless Chromium (DevTools protocol over `--remote-debugging-pipe`, standard
   library only) and saves a full-page screenshot `<out>/<notebook>.png`;
4. fails on a missing image (a local `<img>` whose file is missing, or any local image the browser
   could not load), an unrendered equation (a KaTeX error, or `$$`, `$...$`, `\\(`, `\\[`, `\\begin{`
   or a TeX command left visible in the page text) and an error output in a cell
   (`output_type: error`, or a stream containing a Python traceback);
5. fails on what a reader should not meet in a chapter, counting only what the page shows (cells
   hidden with `#| hide` or `#| include: false`, code under `#| echo: false`, outputs under
   `#| output: false` do not count):
   - words of how the project was built (a curated list of case-insensitive regexes, `BUILD_WORDS`:
     "the issue", "goal met", "build machine", "../shared", "SEEDS", "seed 001", "target: +6 dB",
     "past the target", ...; honest uses such as "the target images", "renamed over the target" or
     a `target` argument are not hit), each printed with its context;
   - a stderr stream shown under a cell (a UserWarning, logging), which Quarto prints as a raw block;
   - a line of code (a code cell, a code block in the prose, a signature) longer than the site's code blocks
     show without wrapping: 100 characters (`CODE_WIDTH`, `--code-width`; see the comment at CODE_WIDTH);
     printed output wraps on the site, so its lines are not counted;
   - an absolute link into the project that leads nowhere: a site page
     (`doc_host`/`doc_baseurl`/<page>.html, named by nbdev's rule: `03a_metrics.ipynb` ->
     `metrics.html`) that no notebook makes, or a GitHub / raw.githubusercontent / Colab URL on the
     `branch` of settings.ini whose file is not committed.

Maths offline: Chromium here has no internet, so a CDN script cannot load. The page links the
KaTeX copy from Debian's `libjs-katex` package (`/usr/share/javascript/katex`, fonts from
`fonts-katex`) via `file://` URLs. Chromium comes from Debian's `chromium` package. When either is
missing and the script runs as root with apt-get, it installs them itself
(`apt-get install -y --no-install-recommends chromium libjs-katex`); otherwise it says what to
install. `--katex DIR` / `$KATEX_DIR` and `--chromium PATH` / `$CHROMIUM` point at other copies.

Usage (from the repo root, in the project's virtualenv):

    python tools/check_site.py [--nbs nbs] [--out site_check] [--only NAME ...]

Prints one line per page (OK or FAIL with its problems), a table of problem counts per page and kind,
and `site check: N pages, M problems` (all also in `<out>/report.txt`);
exits 1 when there are problems, 2 when the check itself could not run.
"""
import argparse, base64, configparser, fcntl, fnmatch, html, html.parser, json, os, re, select, shutil, subprocess, sys
import tempfile, time, urllib.parse
from pathlib import Path

import nbformat, yaml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

REPO = Path(__file__).resolve().parent.parent
KATEX_DIRS = ['/usr/share/javascript/katex', '/usr/share/nodejs/katex/dist']
CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
APT_PACKAGES = ['chromium', 'libjs-katex']
MAX_SHOT_HEIGHT = 30000  # px; taller pages are cut there (the line says so)
# The site's code blocks are 682 px wide at a 1300 px window (Quarto 1.7.34, cosmo theme, sidebar and table of
# contents shown; measured on screenshots of the Quarto-built site). At Quarto's default code font (8.8 px a
# character) only 76 characters fit; nbs/styles.css sets code and output blocks in 0.7rem (11.2 px, about 6.7 px a
# character), so 100 fit, and _quarto.yml's `code-overflow: wrap` wraps anything longer instead of scrolling.
CODE_WIDTH = 100
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
        if kind == 'output': continue  # printed output wraps on the site (styles.css: white-space: pre-wrap)
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


# ----------------------------------------------------------------------------- HTML
KATEX_HEAD = """
<link rel="stylesheet" href="{k}/katex.min.css">
<script src="{k}/katex.min.js"></script>
<script src="{k}/contrib/{auto}"></script>
<style>body {{ max-width: 1100px; margin: 0 auto; }} .site-title {{ padding: 1em 0 0 0; }}</style>
"""
# The same delimiters Quarto/pandoc recognise; KaTeX skips pre/code/script/style by default.
KATEX_RUN = """
<script>
window.__katexDone = false;
document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [{left: "$$", right: "$$", display: true}, {left: "\\\\[", right: "\\\\]", display: true},
                 {left: "$", right: "$", display: false}, {left: "\\\\(", right: "\\\\)", display: false}],
    throwOnError: false, errorColor: "#cc0001"
  });
  window.__katexDone = true;
});
</script>
"""
MATHJAX_BLOCK = re.compile(r'<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->', re.S)
REQUIRE_JS = re.compile(r'<script src="https?://[^"]*require[^"]*"></script>')


# Quarto cell options nbdev leaves for Quarto, and the nbconvert tags that do the same here.
QUARTO_TAGS = {('echo', 'false'): 'remove_input', ('include', 'false'): 'remove_cell',
               ('output', 'false'): 'remove_output'}
QUARTO_OPTION = re.compile(r'^#\|\s*([\w-]+)\s*:\s*(\S+)\s*$')
PANDOC_LINK_ATTRS = re.compile(r'(\]\([^)\s]*\))\{[^}\n]*\}')  # [text](url){target="_blank" ...}


def quarto_like(nb):
    "Copy of a processed notebook as Quarto would show it: front matter as a title, cell options applied."
    fm = frontmatter(nb)
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not (c.cell_type == 'raw' and c.source.lstrip().startswith('---'))]
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = PANDOC_LINK_ATTRS.sub(r'\1', c.source)
        if c.cell_type != 'code': continue
        opts = [m.groups() for m in map(QUARTO_OPTION.match, c.source.splitlines()) if m]
        c.metadata['tags'] = list(c.metadata.get('tags', [])) + [QUARTO_TAGS[o] for o in opts if o in QUARTO_TAGS]
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                o.data['text/markdown'] = PANDOC_LINK_ATTRS.sub(r'\1', o.data['text/markdown'])
    if fm.get('title'):
        head = f"# {fm['title']}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    return nb


def render_html(nb, katex_dir):
    "Standalone HTML for a processed notebook, with its title header and offline KaTeX."
    exporter = HTMLExporter(template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(
        remove_cell_tags={'remove_cell'}, remove_input_tags={'remove_input'},
        remove_all_outputs_tags={'remove_output'}), enabled=True)
    body, _ = exporter.from_notebook_node(quarto_like(nb))
    auto = 'auto-render.min.js' if (katex_dir/'contrib/auto-render.min.js').exists() else 'auto-render.js'
    body = MATHJAX_BLOCK.sub('', body)
    body = REQUIRE_JS.sub('', body)
    body = body.replace('</head>', KATEX_HEAD.format(k=katex_dir.resolve().as_uri(), auto=auto) + '</head>', 1)
    return body.replace('</body>', KATEX_RUN + '</body>', 1)


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
    "Problems for <img> tags whose local file does not exist (remote and data: images skipped)."
    p = _ImgSrcs(); p.feed(html_text)
    probs = []
    for src in p.srcs:
        if not src: probs.append("image with empty src"); continue
        if src.startswith('data:') or is_remote(src): continue
        u = urllib.parse.urlparse(src)
        path = Path(urllib.parse.unquote(u.path)) if u.scheme == 'file' else page_dir/urllib.parse.unquote(u.path)
        if not path.exists(): probs.append(f"missing image: {src}")
    return probs


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


# Runs in the page after load: waits for images and fonts, then reports what a reader would see.
PAGE_CHECK_JS = r"""
(async () => {
  for (let i = 0; i < 100 && !window.__katexDone; i++) await new Promise(r => setTimeout(r, 100));
  await Promise.all([...document.images].map(img => img.complete ? null :
        new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 5000); })));
  await document.fonts.ready;
  const local = s => !/^(https?:)?\/\//.test(s);
  const broken = [...document.images].filter(i => local(i.getAttribute('src') || '') && i.naturalWidth === 0)
                     .map(i => (i.getAttribute('src') || '').slice(0, 100));
  const katexErrors = [...document.querySelectorAll('.katex-error')]
                     .map(e => (e.getAttribute('title') || 'KaTeX error') + ' in: ' + e.textContent.slice(0, 80));
  // KaTeX draws what it cannot typeset (e.g. an unknown macro) in errorColor #cc0001.
  const katexRed = [...document.querySelectorAll('.katex [style*="color"]')]
                     .filter(e => getComputedStyle(e).color === 'rgb(204, 0, 1)')
                     .map(e => 'KaTeX cannot typeset: ' + e.textContent.slice(0, 80));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, .katex, .katex-error').forEach(e => e.remove());
  return {katexLoaded: typeof katex !== 'undefined' && typeof renderMathInElement !== 'undefined',
          katexDone: !!window.__katexDone, broken, katexErrors: katexErrors.concat(katexRed), text: clone.textContent,
          nKatex: document.querySelectorAll('.katex').length,
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
    "Load `page`, check it as a reader sees it and save a full-page screenshot; returns (problems, note)."
    browser.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=900,
                 deviceScaleFactor=1, mobile=False)
    browser.events.clear()
    browser.send('Page.navigate', session=True, url=page.resolve().as_uri())
    if not browser.wait_event('Page.loadEventFired', timeout):
        return [f"page did not finish loading within {timeout}s"], ''
    r = browser.eval(PAGE_CHECK_JS, timeout=timeout)
    probs = [f"image failed to load in the browser: {s}" for s in r['broken']]
    if not (r['katexLoaded'] and r['katexDone']): probs.append("KaTeX did not load or run: no equation can be typeset")
    probs += [f"unrendered equation: {e}" for e in dict.fromkeys(r['katexErrors'])]
    probs += raw_tex_problems(r['text'])
    height = min(r['height'], MAX_SHOT_HEIGHT)
    browser.send('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height,
                 deviceScaleFactor=1, mobile=False)
    png = browser.send('Page.captureScreenshot', session=True, timeout=timeout, format='png',
                       captureBeyondViewport=True,
                       clip={'x': 0, 'y': 0, 'width': width, 'height': height, 'scale': 1})['data']
    shot.write_bytes(base64.b64decode(png))
    note = f"{width}x{height}px, {r['nKatex']} equations"
    if r['height'] > MAX_SHOT_HEIGHT: note += f", screenshot cut at {MAX_SHOT_HEIGHT}px of {r['height']}px"
    return probs, note


# ----------------------------------------------------------------------------- main
PROBLEM_KINDS = [('build words', 'build words'), ('stderr', 'stderr shown'), ('wide code', 'code too wide'),
                 ('links', 'broken link'), ('images', ('missing image', 'image failed', 'image with')),
                 ('maths', ('unrendered equation', 'KaTeX')), ('errors', ('error output', 'traceback', 'nbdev'))]


def problem_table(counts):
    "A table of problem counts per page and kind."
    names = [k for k, _ in PROBLEM_KINDS] + ['other']
    def kind(p): return next((k for k, pre in PROBLEM_KINDS if p.startswith(pre)), 'other')
    w = max([len('page'), *map(len, counts)])
    rows = [f"{'page':{w}}  " + ' '.join(f'{n:>11}' for n in names) + '  total']
    for page, probs in counts.items():
        ks = [kind(p) for p in probs]
        rows.append(f"{page:{w}}  " + ' '.join(f'{ks.count(n):>11}' for n in names) + f'  {len(probs):>5}')
    return '\n'.join(rows)


def check_site(nbs, out, only=(), chromium=None, katex=None, install=True, width=1200, timeout=60, keep=False,
               code_width=CODE_WIDTH):
    "Check the pages of `nbs`; writes screenshots to `out`; returns the number of problems."
    nbs = Path(nbs).resolve()
    if not nbs.is_dir(): raise SetupError(f"--nbs {nbs}: not a folder")
    notebooks = select_notebooks(nbs, only)
    if not notebooks: raise SetupError(f"no notebooks in {nbs}")
    cfg_dir = find_config(nbs)
    exe, katex_dir = ensure_tools(chromium, katex, install)
    out = Path(out).resolve(); out.mkdir(parents=True, exist_ok=True)
    if not only:  # a full run replaces the previous screenshots
        for old in out.glob('*.png'): old.unlink()
    tmp = Path(tempfile.mkdtemp(prefix='check_site_'))
    n_problems, lines, counts = 0, [], {}
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
                        probs += wide_code_problems(nb, code_width)
                        page = dst.with_suffix('.html')
                        page.write_text(render_html(nb, katex_dir), encoding='utf-8')
                        html_text = page.read_text(encoding='utf-8')
                        probs += missing_images(html_text, page.parent) + link_problems(html_text, nbs, cfg_dir)
                        shot = out/(name.replace('/', '__') + '.png')
                        bprobs, note = check_in_browser(browser, page, shot, width, timeout)
                        probs += [p for p in bprobs if not (p.startswith('image failed') and
                                  any(q.startswith('missing image') and p.split(': ', 1)[1] in q for q in probs))]
                        note = f"{shot.relative_to(out.parent) if out.parent in shot.parents else shot}, {note}"
                        if unexecuted(nb): note += "; note: no saved outputs, so no figures (notebook not executed?)"
                    note += proc_note
                    n_problems += len(probs)
                    counts[name] = probs
                    line = (f"OK    {name}  ({note})" if not probs else
                            f"FAIL  {name}: {len(probs)} problem(s)" + (f" ({note.lstrip('; ')})" if note else '') + ''.join(f"\n      - {p}" for p in probs))
                    print(line, flush=True); lines.append(line)
            finally:
                browser.close()
    finally:
        if keep: print(f"check_site: kept processed notebooks and HTML in {tmp}")
        else: shutil.rmtree(tmp, ignore_errors=True)
    table = problem_table(counts)
    summary = f"site check: {len(notebooks)} pages, {n_problems} problems"
    print(table); print(summary)
    (out/'report.txt').write_text('\n'.join(lines + [table, summary]) + '\n')
    return n_problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--nbs', default=str(REPO/'nbs'), help="notebooks folder (default: nbs/ of this repo)")
    ap.add_argument('--out', default=str(REPO/'site_check'), help="folder for screenshots and report.txt (default: site_check/ of this repo)")
    ap.add_argument('--only', nargs='+', default=[], metavar='NAME',
                    help="check only these notebooks (stem, file name or glob, e.g. index 02_vae '0*')")
    ap.add_argument('--chromium', help="Chromium executable (default: $CHROMIUM or chromium on PATH)")
    ap.add_argument('--katex', help="KaTeX dist folder (default: $KATEX_DIR or /usr/share/javascript/katex)")
    ap.add_argument('--no-install', action='store_true', help="never apt-get install missing tools")
    ap.add_argument('--width', type=int, default=1200, help="page width in px (default: 1200)")
    ap.add_argument('--code-width', type=int, default=CODE_WIDTH,
                    help=f"longest line a code or output block shows without scrolling (default: {CODE_WIDTH})")
    ap.add_argument('--timeout', type=int, default=60, help="seconds allowed per page (default: 60)")
    ap.add_argument('--keep', action='store_true', help="keep the temporary processed notebooks and HTML")
    a = ap.parse_args(argv)
    try:
        n = check_site(a.nbs, a.out, a.only, a.chromium, a.katex, not a.no_install, a.width, a.timeout, a.keep, a.code_width)
    except SetupError as e:
        print(f"check_site: error: {e}", file=sys.stderr)
        return 2
    return 1 if n else 0


if __name__ == '__main__':
    sys.exit(main())
