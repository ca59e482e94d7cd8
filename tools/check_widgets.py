#!/usr/bin/env python
"""Check the in-page latent explorers and morph sliders in headless Chromium.

    python tools/check_widgets.py                 # the widgets stored in the chapters, and freshly made ones
    python tools/check_widgets.py --out /tmp/w    # also keep a screenshot of each page there

Pages checked: every widget output stored in nbs/04_generate.ipynb and nbs/05_morph.ipynb (what the site
shows), and widgets made now by `vae_nbs.explorer` from the shipped models mnist2d, fashion2d and mnist.
For each widget the script

1. finds the shipped model whose decoder the page carries (the page's weights must equal `export_decoder`'s);
2. decodes a dozen codes with the page's own JavaScript and compares the pixels, before they are drawn, with
   torch's decode of the same codes (largest difference at most 1e-3);
3. times 200 updates (decode and draw), with Chromium held to one CPU core: the CPU time of one update (the
   page processes' CPU time, as Chromium counts it, over the 200) must be under 16 ms; the median wall time is
   printed too, and exceeds the CPU time only when other programs share the core;
4. dispatches real events: pointer moves, a drag and arrow keys on the explorer's map; clicks on the morph
   strip, slider `input` events and a click on the path's radio button; each must reach the decoder with
   the code the event names, and the decoded pixels must again equal torch's;
5. fails on any console error or uncaught exception, and on a still picture left in place of the live widget;
6. loads each page again with scripts turned off: every widget must then show its still picture instead.

Chromium is Debian's `chromium` (driven over `--remote-debugging-pipe` with tools/check_site.py's client, standard
library only). Prints one line per widget and exits 0 when all pass, 1 when one fails, 2 when the check cannot run."""
import argparse, base64, json, os, re, statistics, sys, tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO/'tools'))
from check_site import Chromium, SetupError, find_chromium  # noqa: E402

TOL, BUDGET_MS = 1e-3, 16.0
CHAPTERS = ['04_generate.ipynb', '05_morph.ipynb']

WAIT_JS = r"""
(async () => {
  for (let i = 0; i < 200 && [...document.querySelectorAll('.vae-nbs-widget')].some(r => !r.vaeNbs); i++)
    await new Promise(r => setTimeout(r, 50));
  return [...document.querySelectorAll('.vae-nbs-widget')].map(r => ({id: r.id, ready: !!r.vaeNbs,
    kind: r.vaeNbs && r.vaeNbs.kind, still: getComputedStyle(r.querySelector('.vae-nbs-still')).display,
    live: getComputedStyle(r.querySelector('.vae-nbs-live')).display}));
})()
"""


def page_js(wid, body):
    "An expression running `body` with `api` (the widget's hooks) and `root` bound; returns its value."
    return f"(async () => {{ const root = document.getElementById({json.dumps(wid)}), api = root.vaeNbs; {body} }})()"


def widgets_in(html):
    "(id, decoder spec) of each widget in `html`."
    out = []
    for m in re.finditer(r'<div class="vae-nbs-widget" id="([^"]+)".*?const data = (\{.*?\});\n', html, re.S):
        out.append((m.group(1), json.loads(m.group(2).replace('<\\/', '</'))))
    return out


def stored_pages(nbs):
    "HTML of every widget output stored in the chapters, one page per chapter."
    pages = {}
    for name in CHAPTERS:
        nb = json.loads((nbs/name).read_text())
        outs = [''.join(o['data']['text/html']) for c in nb['cells'] if c['cell_type'] == 'code'
                for o in c.get('outputs', []) if 'text/html' in o.get('data', {})]
        outs = [h for h in outs if 'vae-nbs-widget' in h]
        if outs: pages[f'stored {name}'] = ''.join(outs)
    return pages


def fresh_pages():
    "Widgets made now from the shipped models."
    from vae_nbs.train import pretrained
    from vae_nbs.data import load_mnist, MNIST_CLASSES, FASHION_CLASSES, DatasetUnavailable
    from vae_nbs.explorer import latent_explorer, morph_slider
    pages = {}
    for ds, name, classes in [('mnist', 'mnist2d', MNIST_CLASSES), ('fashion', 'fashion2d', FASHION_CLASSES)]:
        try: x, y = load_mnist(ds, train=False)
        except DatasetUnavailable as e:
            print(f"skip  fresh {name}: the {ds} test set is not available ({str(e).splitlines()[0]})", flush=True)
            continue
        pages[f'fresh {name}'] = latent_explorer(pretrained(name, 'cpu'), x, y, classes, n_points=1000).html
        if ds == 'mnist': pages['fresh mnist morph'] = morph_slider(pretrained('mnist', 'cpu'), x[:12], start=(0, 1)).html
    return pages


class Reference:
    "torch's decode for the shipped model whose exported decoder a page carries."
    def __init__(self):
        import torch
        from vae_nbs.train import pretrained, PRETRAINED
        from vae_nbs.explorer import export_decoder
        self.torch, self.models = torch, {}
        for name in PRETRAINED:
            try: m = pretrained(name, 'cpu')
            except Exception: continue
            try: self.models[export_decoder(m)['weights']] = (name, m)
            except ValueError: pass

    def find(self, spec):
        return self.models.get(spec['weights'], (None, None))

    def decode(self, model, z):
        t = self.torch
        with t.no_grad(): return model.to_image(model.decode(t.tensor(z, dtype=t.float32))).flatten(1).numpy()


def renderer_cpu(br):
    "CPU seconds the page processes have used so far, as Chromium counts them (other programs on the core do not count)."
    return sum(p['cpuTime'] for p in br.send('SystemInfo.getProcessInfo')['processInfo'] if p['type'] == 'renderer')


def maxdiff(a, b):
    import numpy as np
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def check_widget(br, ref, wid, data, problems):
    "Run checks 1-4 on one widget; append problems; return a summary string."
    import numpy as np
    spec = data['decoder']
    name, model = ref.find(spec)
    if model is None:
        problems.append("its decoder is none of the shipped models' (export_decoder of each differs)"); return ''
    rng = np.random.default_rng(0)
    explorer = 'span' in data
    span = data.get('span', 2.5)
    zs = (rng.uniform(-span, span, (12, spec['latent'])) if explorer else rng.normal(size=(12, spec['latent']))).round(4)
    px = br.eval(page_js(wid, f"return {json.dumps(zs.tolist())}.map(z => Array.from(api.decode(z)));"))
    d_direct = maxdiff(px, ref.decode(model, zs))
    if not d_direct <= TOL: problems.append(f"page decode differs from torch by {d_direct:.2e} (> {TOL})")
    cpu0 = renderer_cpu(br)
    times = br.eval(page_js(wid, """
      const ts = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        if (api.kind === 'explorer') api.update([Math.sin(i)*2, Math.cos(i)*2]);
        else { root.querySelector('input[type=range]').value = i % 101; api.update(); }
        ts.push(performance.now() - t0);
      }
      return ts;"""))
    cpu = (renderer_cpu(br) - cpu0)*1000/len(times)
    med = statistics.median(times)
    if not cpu < BUDGET_MS: problems.append(f"one update takes {cpu:.1f} ms of CPU time (mean of {len(times)}), over {BUDGET_MS} ms")
    event_diffs = []
    if explorer:
        for z in zs[:6]:
            last = br.eval(page_js(wid, f"""
              const [x, y] = api.clientPoint({json.dumps(z.tolist())}), map = root.querySelector('canvas.map'), n = api.updates;
              map.dispatchEvent(new PointerEvent('pointermove', {{clientX: x, clientY: y, bubbles: true, pointerId: 1}}));
              return {{z: api.last.z, pixels: Array.from(api.last.pixels), n: api.updates - n}};"""))
            if last['n'] != 1 or maxdiff(last['z'], z) > 1e-3*span:
                problems.append(f"a pointer move to {z.tolist()} reached the decoder as {last['z']} ({last['n']} updates)")
            event_diffs.append(maxdiff(last['pixels'], ref.decode(model, [last['z']])))
        a, b = zs[6], zs[7]
        last = br.eval(page_js(wid, f"""
          const map = root.querySelector('canvas.map'), ev = (type, z) => {{ const [x, y] = api.clientPoint(z);
            map.dispatchEvent(new PointerEvent(type, {{clientX: x, clientY: y, bubbles: true, pointerId: 1, buttons: 1}})); }};
          ev('pointerdown', {json.dumps(a.tolist())}); ev('pointermove', {json.dumps(b.tolist())}); ev('pointerup', {json.dumps(b.tolist())});
          map.dispatchEvent(new PointerEvent('pointerleave', {{bubbles: false}}));
          const dragged = api.last.z;
          map.dispatchEvent(new KeyboardEvent('keydown', {{key: 'ArrowRight', bubbles: true}}));
          return {{dragged, keyed: api.last.z, pixels: Array.from(api.last.pixels)}};"""))
        if maxdiff(last['dragged'], b) > 1e-3*span: problems.append(f"dragging the marker to {b.tolist()} left it at {last['dragged']}")
        want = [float(min(span, b[0] + span/40)), float(b[1])]
        if maxdiff(last['keyed'], want) > 1e-3*span: problems.append(f"ArrowRight moved the marker to {last['keyed']}, not {want}")
        event_diffs.append(maxdiff(last['pixels'], ref.decode(model, [last['keyed']])))
    else:
        import torch
        from vae_nbs.morph import lerp, slerp
        codes = torch.tensor(data['codes'])
        for i, j, t, method in [(3, 7, 30, 'slerp'), (5, 2, 85, 'slerp'), (9, 0, 40, 'lerp')]:
            last = br.eval(page_js(wid, f"""
              const thumbs = root.querySelectorAll('canvas.thumb'), slider = root.querySelector('input[type=range]');
              if (root.querySelector('input[type=radio]:checked').value !== '{method}')
                root.querySelector('input[type=radio][value={method}]').dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
              if (root.querySelector('.next').textContent.startsWith('end'))  // the next click sets the end: click the start twice
                thumbs[{i}].dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
              thumbs[{i}].dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
              thumbs[{j}].dispatchEvent(new MouseEvent('click', {{bubbles: true}}));
              slider.value = {t}; slider.dispatchEvent(new Event('input', {{bubbles: true}}));
              return Object.assign({{}}, api.last, {{pixels: Array.from(api.last.pixels)}});"""))
            want = (slerp if method == 'slerp' else lerp)(codes[i], codes[j], t/100).numpy()
            if last['ends'] != [i, j] or last['method'] != method or abs(last['t'] - t/100) > 1e-9 or maxdiff(last['z'], want) > 1e-4:
                problems.append(f"clicks on images {i}, {j}, the {method} button and the slider at {t} reached the decoder as "
                                f"ends {last['ends']}, {last['method']}, t={last['t']}, code off by {maxdiff(last['z'], want):.1e}")
            event_diffs.append(maxdiff(last['pixels'], ref.decode(model, [last['z']])))
    d_events = max(event_diffs)
    if not d_events <= TOL: problems.append(f"after dispatched events the pixels differ from torch by {d_events:.2e}")
    return (f"{name}: decode of 12 codes within {d_direct:.1e} of torch, events within {d_events:.1e}; "
            f"one update {cpu:.2f} ms of CPU, {med:.2f} ms of wall time (median)")


NOJS_JS = r"""
(async () => {
  await Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  return [...document.querySelectorAll('.vae-nbs-widget')].map(r => { const img = r.querySelector('.vae-nbs-still');
    return {shown: getComputedStyle(img).display !== 'none' && img.naturalWidth > 0,
            live: getComputedStyle(r.querySelector('.vae-nbs-live')).display !== 'none'}; });
})()
"""


def check_without_js(br, page, title, n):
    "With scripts off, each widget must show its still picture (decoded) and hide its live part; returns 1 on failure."
    br.send('Emulation.setScriptExecutionDisabled', session=True, value=True)
    try:
        br.send('Page.navigate', session=True, url=page.as_uri())
        br.wait_event('Page.loadEventFired', 60)
        seen = br.eval(NOJS_JS)
    finally: br.send('Emulation.setScriptExecutionDisabled', session=True, value=False)
    ok = len(seen) == n and all(w['shown'] and not w['live'] for w in seen)
    print(f"{'OK' if ok else 'FAIL'}  {title} without JavaScript: {sum(w['shown'] for w in seen)} of {n} still pictures shown"
          + ('' if ok else f" {seen}"), flush=True)
    br.events.clear()
    return 0 if ok else 1


def run(pages, chromium, out, core):
    ref = Reference()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = os.sched_getaffinity(0) if hasattr(os, 'sched_getaffinity') else None
        if old is not None: os.sched_setaffinity(0, {core if core in old else min(old)})  # Chromium inherits one core
        with open(tmp/'chromium.log', 'w') as log:
            try: br = Chromium(chromium, tmp/'profile', log)
            finally:
                if old is not None: os.sched_setaffinity(0, old)
            try:
                br.send('Log.enable', session=True)
                br.send('Emulation.setDeviceMetricsOverride', session=True, width=1000, height=900, deviceScaleFactor=1, mobile=False)
                for title, html in pages.items():
                    f = tmp/(re.sub(r'\W+', '_', title) + '.html')
                    f.write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body>{html}</body></html>')
                    br.events.clear()
                    br.send('Page.navigate', session=True, url=f.as_uri())
                    br.wait_event('Page.loadEventFired', 60)
                    states = br.eval(WAIT_JS)
                    found = dict(widgets_in(html))
                    for st in states:
                        problems = []
                        if not st['ready']: problems.append("its script never started (no hooks on the element)")
                        elif st['still'] != 'none' or st['live'] == 'none': problems.append("the still picture is still shown")
                        summary = check_widget(br, ref, st['id'], found[st['id']], problems) if st['ready'] else ''
                        errors = [e for e in br.events if e.get('method') == 'Runtime.exceptionThrown'
                                  or (e.get('method') == 'Runtime.consoleAPICalled' and e['params'].get('type') in ('error', 'assert'))
                                  or (e.get('method') == 'Log.entryAdded' and e['params']['entry'].get('level') == 'error')]
                        problems += [f"console error: {json.dumps(e['params'])[:200]}" for e in errors]
                        br.events.clear()
                        failed += bool(problems)
                        print(f"{'FAIL' if problems else 'OK'}  {title} [{st['kind']}] {summary}", flush=True)
                        for p in problems: print(f"      {p}", flush=True)
                    if not states: print(f"FAIL  {title}: no widget on the page"); failed += 1
                    failed += check_without_js(br, f, title, len(states))
                    if out:
                        out.mkdir(parents=True, exist_ok=True)
                        png = br.send('Page.captureScreenshot', session=True, format='png', captureBeyondViewport=True)['data']
                        (out/f.with_suffix('.png').name).write_bytes(base64.b64decode(png))
            finally: br.close()
    return failed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--nbs', default=str(REPO/'nbs'), help="notebooks folder (default: nbs/ of this repo)")
    ap.add_argument('--out', help="folder for a screenshot of each page (default: none)")
    ap.add_argument('--chromium', help="Chromium executable (default: $CHROMIUM or chromium on PATH)")
    ap.add_argument('--core', type=int, default=0, help="the one CPU core Chromium runs on (default: 0)")
    ap.add_argument('--stored-only', action='store_true', help="check only the widgets stored in the chapters")
    a = ap.parse_args(argv)
    exe = find_chromium(a.chromium)
    if not exe:
        print("check_widgets: error: no Chromium found: install Debian's chromium package or pass --chromium PATH", file=sys.stderr)
        return 2
    try:
        pages = stored_pages(Path(a.nbs))
        missing = [n for n in CHAPTERS if f'stored {n}' not in pages]
        for n in missing: print(f"FAIL  stored {n}: no widget output stored in the chapter", flush=True)
        n = run(pages | ({} if a.stored_only else fresh_pages()), exe, Path(a.out) if a.out else None, a.core)
    except SetupError as e:
        print(f"check_widgets: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("check_widgets: interrupted", file=sys.stderr)
        return 130
    n += len(missing)
    print(f"widget check: {n} failed")
    return 1 if n else 0


if __name__ == '__main__':
    sys.exit(main())
