"Write README.md from nbs/index.ipynb without Quarto: markdown cells as they are, shown code cells as code."
import json, re
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def cell_text(cell): return ''.join(cell['source'])

def is_hidden(src): return bool(re.search(r'^#\|\s*(hide|include:\s*false)\b', src, re.M))

def strip_directives(src): return '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()

def output_text(out):
    if out.get('output_type') == 'stream': return ''.join(out['text'])
    data = out.get('data', {})
    return ''.join(data.get('text/markdown', data.get('text/plain', '')))

def notebook_markdown(nb):
    "Markdown for every visible cell of `nb`."
    parts = []
    for cell in nb['cells']:
        src = cell_text(cell)
        if cell['cell_type'] == 'markdown': parts.append(src.strip())
        elif cell['cell_type'] == 'code' and not is_hidden(src):
            code = strip_directives(src)
            if code: parts.append(f"```python\n{code}\n```")
            outs = ''.join(output_text(o) for o in cell.get('outputs', [])).strip()
            if outs: parts.append(f"```\n{outs}\n```")
    return '\n\n'.join(p for p in parts if p) + '\n'

if __name__ == '__main__':
    nb = json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    md = notebook_markdown(nb)
    md = re.sub(r'\]\((images/|[\w-]+\.ipynb)', r'](nbs/\1', md)  # README sits one folder above the notebooks
    (root/'README.md').write_text(md, encoding='utf-8')
    print('wrote README.md')
