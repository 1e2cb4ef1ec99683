"""A second, unrelated corpus the tests write themselves: nothing in the engine may know it."""
from __future__ import annotations

from pathlib import Path

COFFEE_MD = """\
# A practical guide to brewing coffee

Good coffee depends on a few variables you can control at home. This guide explains the main
brewing methods, the equipment behind them, and the mistakes people make most often.

## What is extraction?

Extraction is the process of dissolving flavour compounds from ground coffee into water. Under-extracted
coffee tastes sour and thin, while over-extracted coffee tastes bitter and dry. The Specialty Coffee
Association (SCA) recommends a ratio of about 55 grams of coffee per litre of water.

Baristas measure extraction with a refractometer, which reports total dissolved solids (TDS) as a
percentage. A typical filter brew lands between 1.15 and 1.35 percent TDS.

## 4 brewing methods

Each method controls contact time, grind size and temperature in its own way, e.g. by pressure or
by gravity.

### 1. Espresso

Espresso forces hot water through finely ground coffee at about nine bars of pressure. A shot takes
25 to 30 seconds and yields a small, concentrated drink topped with crema.

### 2. French press

A French press steeps coarse grounds in hot water for about four minutes. A metal mesh filter then
separates the grounds, leaving a heavy, full-bodied cup.

### 3. Pour-over

Pour-over brewing pours water by hand over grounds in a paper filter. The slow, even pour gives a
clean and bright cup.

### 4. Cold brew

Cold brew steeps coarse grounds in cold water for 12 to 24 hours. It produces a smooth concentrate
with low acidity that is usually diluted before serving.

## Equipment makers

### AeroPress by Aerobie

The AeroPress is a plastic brewer invented by Alan Adler and sold by Aerobie. It combines immersion
with gentle pressure from a plunger.

### Chemex by Peter Schlumbohm

The Chemex is an hourglass-shaped glass brewer designed by the chemist Peter Schlumbohm. Its thick
bonded filters remove most oils.

## Common mistakes

- Using water that is too hot, which scorches the grounds and adds bitterness
- Grinding too fine for the method, which clogs filters and over-extracts
- Storing beans in the fridge, where they absorb odours and moisture
"""

TEA_TXT = """\
Green tea is made from leaves that are steamed or pan-fired soon after picking, which stops oxidation.

Black tea leaves are fully oxidised before drying. This gives black tea its dark colour and malty taste.

Matcha is a powdered green tea whisked into hot water rather than steeped.
"""

MANIFEST = """\
name: Coffee and tea notes
description: A small test corpus on brewing coffee and tea.
documents:
  - path: coffee.md
    title: A practical guide to brewing coffee
    author: Test Author
    published: 2021-05-04
  - path: tea.txt
    title: Notes on tea
settings:
  top_k: 5
"""


def write_second_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "coffee.md").write_text(COFFEE_MD, encoding="utf-8")
    (root / "tea.txt").write_text(TEA_TXT, encoding="utf-8")
    (root / "corpus.yaml").write_text(MANIFEST, encoding="utf-8")
    return root
