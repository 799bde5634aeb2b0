"""Draw a module's partition (`nir.partition_graph`) as a self-contained SVG.

Layout comes from Graphviz `dot` when it is installed: it is the layered layout people expect
of a dataflow graph. Without it, a pure-Python layered layout does the same steps more simply
(networkx's topological generations as layers, dummy points for edges that skip layers,
barycentre ordering against crossings), so the picture needs nothing beyond nir's own
dependencies. Both write the same classes and ids, which is what tests and scripts read:

    <g id="p0b3" class="node nir-box nir-cluster">          a box (nir-input/output/cluster/cpu)
    <g id="p0e5" class="edge nir-edge nir-boundary nir-tensor-p0-7">   an edge, title "src->dst"
"""

from __future__ import annotations

import html
import logging
import shutil
import subprocess
from dataclasses import dataclass

from nir.partition_graph import CATEGORIES, CLUSTER_COLOUR, Box, Edge, Panel, partition_graph

logger = logging.getLogger("nir")

LAYOUTS = ("auto", "dot", "python")
CHAR_WIDTH, LINE_HEIGHT, PADDING = 7.0, 16.0, 10.0
LAYER_GAP, NODE_GAP, PANEL_GAP, MARGIN = 56.0, 28.0, 40.0, 20.0
FONT = "font-family:Helvetica,Arial,sans-serif;font-size:12px"


def partition_svg(module, layout: str = "auto", title: str = "") -> str:
    """The SVG text of `module`'s partition. layout: "dot" (Graphviz, an error if missing),
    "python" (nir's own layered layout) or "auto" (dot when installed)."""

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout '{layout}'; choose one of {', '.join(LAYOUTS)}")
    panels = partition_graph(module)
    dot = shutil.which("dot")
    if layout == "dot" and dot is None:
        raise ValueError("layout 'dot' needs Graphviz: install it (apt install graphviz, brew install graphviz)")
    if layout in ("auto", "dot") and dot is not None:
        try:
            return _run_dot(dot, to_dot(panels, title))
        except (OSError, subprocess.SubprocessError) as err:
            if layout == "dot":
                raise ValueError(f"Graphviz dot failed: {err}") from None
            logger.warning("Graphviz dot failed (%s); using nir's own layout", err)
    return python_layout_svg(panels, title)


def partition_html(svg: str, title: str) -> str:
    """The SVG in a page of its own: hover any box for its op types, reasons and node names."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:16px}svg{max-width:100%;height:auto}</style>"
        f"</head><body><h3>{html.escape(title)}</h3>"
        "<p>Green boxes run on Neuron; other boxes are CPU ops, coloured by why they stayed there. "
        "Hover a box for details.</p>\n"
        f"{svg[svg.index('<svg'):]}\n</body></html>\n"
    )


def box_classes(box: Box) -> str:
    classes = f"node nir-box nir-{box.kind}"
    return classes + (f" nir-reason-{box.category}" if box.category else "")


def edge_classes(edge: Edge, panel: str) -> str:
    classes = f"edge nir-edge nir-tensor-{panel}-{edge.tensor}"
    if edge.boundary:
        classes += " nir-boundary"
    if edge.control:
        classes += " nir-control"
    return classes


def legend_entries(panels: list[Panel]) -> list[tuple[str, str]]:
    present = {b.category for p in panels for b in p.boxes if b.category}
    entries = [("runs on Neuron (one NeuronOp)", CLUSTER_COLOUR)]
    entries += [(f"CPU: {c.title}", c.colour) for key, c in CATEGORIES.items() if key in present]
    return entries


# --- Graphviz -------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(panels: list[Panel], title: str) -> str:
    lines = [
        "digraph partition {",
        f"  graph [rankdir=TB, nodesep=0.3, ranksep=0.45, fontname=Helvetica, label={_quote(title)}, labelloc=t];",
        "  node [shape=box, style=\"rounded,filled\", fontname=Helvetica, fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=9, color=\"#555555\"];",
    ]
    for number, panel in enumerate(panels):
        indent = "  "
        if number:
            lines.append(f"  subgraph cluster_{panel.boxes[0].id.split('b')[0] if panel.boxes else number} {{")
            lines.append(f"    graph [label={_quote(panel.title)}, style=\"rounded,dashed\", color=\"#888888\"];")
            indent = "    "
        for box in panel.boxes:
            label = "\n".join([box.title, *[line for line in box.lines if line]])
            shape = ", shape=ellipse" if box.kind in ("input", "output") else ""
            lines.append(
                f"{indent}{box.id} [id={_quote(box.id)}, class={_quote(box_classes(box)[5:])}, label={_quote(label)}, "
                f"fillcolor={_quote(box.colour)}, tooltip={_quote(' | '.join(box.details) or box.title)}{shape}];"
            )
        if number:
            lines.append("  }")
    for number, panel in enumerate(panels):
        prefix = panel.boxes[0].id.split("b")[0] if panel.boxes else f"p{number}"
        for i, edge in enumerate(panel.edges):
            style = ", style=dashed" if edge.control else ""
            lines.append(
                f"  {edge.source} -> {edge.target} [id={_quote(f'{prefix}e{i}')}, "
                f"class={_quote(edge_classes(edge, prefix)[5:])}, label={_quote(edge.label)}{style}];"
            )
    lines.append("  legend [id=\"legend\", class=\"nir-legend\", shape=plaintext, style=\"\", label=<"
                 "<table border=\"0\" cellspacing=\"2\">"
                 + "".join(f"<tr><td bgcolor=\"{colour}\" width=\"16\"> </td><td align=\"left\">{html.escape(text)}</td></tr>"
                           for text, colour in legend_entries(panels))
                 + "</table>>];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _run_dot(dot: str, source: str) -> str:
    result = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


# --- nir's own layered layout ---------------------------------------------------------------

@dataclass
class _Node:
    id: str
    width: float
    height: float
    box: Box | None  # None for a dummy point on a long edge
    layer: int = 0
    x: float = 0.0
    y: float = 0.0


def _box_size(box: Box) -> tuple[float, float]:
    lines = [box.title, *[line for line in box.lines if line]]
    return max(len(line) for line in lines) * CHAR_WIDTH + 2 * PADDING, len(lines) * LINE_HEIGHT + PADDING


def _layers(panel: Panel) -> tuple[dict[str, _Node], list[list[str]], list[list[str]]]:
    """Nodes (boxes and dummies), the layers top to bottom, and each edge's chain of node ids."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(b.id for b in panel.boxes)
    order = {b.id: i for i, b in enumerate(panel.boxes)}
    graph.add_edges_from((edge.source, edge.target) for edge in panel.edges)
    if not nx.is_directed_acyclic_graph(graph):
        # The grouping rules cycles out; should one appear anyway, edges against the block's
        # order are left out of the layering (still drawn), so the layout stays defined.
        graph.remove_edges_from([(e.source, e.target) for e in panel.edges if order[e.source] >= order[e.target]])
    nodes = {b.id: _Node(b.id, *_box_size(b), b) for b in panel.boxes}
    layers: list[list[str]] = []
    for depth, generation in enumerate(nx.topological_generations(graph)):
        layers.append(sorted(generation, key=order.__getitem__))
        for node_id in generation:
            nodes[node_id].layer = depth
    chains = []
    for i, edge in enumerate(panel.edges):
        chain = [edge.source]
        for layer in range(nodes[edge.source].layer + 1, nodes[edge.target].layer):
            dummy = _Node(f"{panel.name}-d{i}-{layer}", 8.0, 0.0, None, layer)
            nodes[dummy.id] = dummy
            layers[layer].append(dummy.id)
            chain.append(dummy.id)
        chains.append([*chain, edge.target])
    return nodes, layers, chains


def _order_layers(layers: list[list[str]], chains: list[list[str]]) -> None:
    """Barycentre heuristic: sort each layer by the mean position of its neighbours in the
    layer above (down sweeps) or below (up sweeps)."""
    above: dict[str, list[str]] = {}
    below: dict[str, list[str]] = {}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            below.setdefault(a, []).append(b)
            above.setdefault(b, []).append(a)
    for _ in range(4):
        for sweep, neighbours in ((range(1, len(layers)), above), (range(len(layers) - 2, -1, -1), below)):
            for index in sweep:
                reference = layers[index - 1] if neighbours is above else layers[index + 1]
                position = {n: i for i, n in enumerate(reference)}
                current = {n: i for i, n in enumerate(layers[index])}

                def barycentre(node: str) -> float:
                    linked = [position[n] for n in neighbours.get(node, ()) if n in position]
                    return sum(linked) / len(linked) if linked else current[node]

                layers[index].sort(key=barycentre)


def _place(nodes: dict[str, _Node], layers: list[list[str]], chains: list[list[str]]) -> tuple[float, float]:
    y = 0.0
    for layer in layers:
        height = max(nodes[n].height for n in layer)
        x = 0.0
        for node_id in layer:
            node = nodes[node_id]
            node.x, node.y = x, y + (height - node.height) / 2
            x += node.width + NODE_GAP
        y += height + LAYER_GAP
    _align_to_neighbours(nodes, layers, chains)
    left = min(n.x for n in nodes.values())
    for node in nodes.values():
        node.x -= left
    width = max(n.x + n.width for n in nodes.values())
    return width, y - LAYER_GAP


def _align_to_neighbours(nodes: dict[str, _Node], layers: list[list[str]], chains: list[list[str]]) -> None:
    """Move each node towards the centre of the nodes it is linked to above, keeping the layer's
    order and gaps, so chains run straight down instead of leaning left."""
    above: dict[str, list[str]] = {}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            above.setdefault(b, []).append(a)
    for layer in layers[1:]:
        wanted = []
        for node_id in layer:
            node = nodes[node_id]
            linked = [nodes[a].x + nodes[a].width / 2 for a in above.get(node_id, ())]
            wanted.append(sum(linked) / len(linked) - node.width / 2 if linked else node.x)
        floor = -float("inf")
        for node_id, target in zip(layer, wanted):
            node = nodes[node_id]
            node.x = max(target, floor)
            floor = node.x + node.width + NODE_GAP


def python_layout_svg(panels: list[Panel], title: str) -> str:
    parts: list[str] = []
    y = MARGIN + (24.0 if title else 0.0)
    width = 0.0
    for number, panel in enumerate(panels):
        nodes, layers, chains = _layers(panel)
        _order_layers(layers, chains)
        panel_width, panel_height = _place(nodes, layers, chains)
        framed = number > 0
        offset_x, offset_y = MARGIN + (PADDING if framed else 0), y + (28.0 if framed else 0)
        for node in nodes.values():
            node.x += offset_x
            node.y += offset_y
        if framed:
            parts.append(
                f'<g class="nir-panel" id="panel-{html.escape(panel.name)}"><rect x="{MARGIN:.1f}" y="{y:.1f}" '
                f'width="{panel_width + 2 * PADDING:.1f}" height="{panel_height + 28 + PADDING:.1f}" rx="8" '
                f'fill="none" stroke="#888888" stroke-dasharray="5,3"/><text x="{MARGIN + PADDING:.1f}" '
                f'y="{y + 18:.1f}" style="{FONT};font-weight:bold">{html.escape(panel.title)}</text></g>'
            )
        prefix = panel.boxes[0].id.split("b")[0] if panel.boxes else f"p{number}"
        parts.extend(_svg_edge(edge, [nodes[n] for n in chain], f"{prefix}e{i}", prefix)
                     for i, (edge, chain) in enumerate(zip(panel.edges, chains)))
        parts.extend(_svg_box(node) for node in nodes.values() if node.box is not None)
        width = max(width, panel_width + 2 * MARGIN + (2 * PADDING if framed else 0))
        y = offset_y + panel_height + (PADDING if framed else 0) + PANEL_GAP
    legend, legend_height = _svg_legend(legend_entries(panels), y)
    parts.append(legend)
    height = y + legend_height + MARGIN
    width = max(width, 360.0)
    header = f'<text x="{MARGIN}" y="{MARGIN + 12}" style="{FONT};font-size:15px;font-weight:bold">{html.escape(title)}</text>' if title else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}">\n'
        '<defs><marker id="nir-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555555"/></marker></defs>\n'
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n{header}\n' + "\n".join(parts) + "\n</svg>\n"
    )


def _svg_box(node: _Node) -> str:
    box = node.box
    assert box is not None
    lines = [box.title, *[line for line in box.lines if line]]
    rounded = ' rx="16"' if box.kind in ("input", "output") else ' rx="5"'
    stroke = "#2e7d5b" if box.kind == "cluster" else "#666666"
    texts = "".join(
        f'<text x="{node.x + node.width / 2:.1f}" y="{node.y + PADDING / 2 + LINE_HEIGHT * (i + 0.75):.1f}" '
        f'text-anchor="middle" style="{FONT}{";font-weight:bold" if i == 0 else ""}">{html.escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    hover = html.escape("\n".join([box.title, *box.details]))
    return (
        f'<g id="{box.id}" class="{box_classes(box)}"><title>{hover}</title>'
        f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" height="{node.height:.1f}"{rounded} '
        f'fill="{box.colour}" stroke="{stroke}"/>{texts}</g>'
    )


def _svg_edge(edge: Edge, chain: list[_Node], edge_id: str, prefix: str) -> str:
    start, end = chain[0], chain[-1]
    points = [(start.x + start.width / 2, start.y + start.height)]
    points += [(n.x + n.width / 2, n.y) for n in chain[1:-1]]
    points.append((end.x + end.width / 2, end.y))
    path = f"M {points[0][0]:.1f} {points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        middle = (y0 + y1) / 2
        path += f" C {x0:.1f} {middle:.1f} {x1:.1f} {middle:.1f} {x1:.1f} {y1:.1f}"
    dash = ' stroke-dasharray="4,3"' if edge.control else ""
    label = ""
    if edge.label:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        label = (f'<text x="{(x0 + x1) / 2 + 4:.1f}" y="{(y0 + y1) / 2 + 4:.1f}" '
                 f'style="{FONT};font-size:10px;fill:#333333">{html.escape(edge.label)}</text>')
    return (
        f'<g id="{edge_id}" class="{edge_classes(edge, prefix)}"><title>{edge.source}-&gt;{edge.target}</title>'
        f'<path d="{path}" fill="none" stroke="#555555"{dash} marker-end="url(#nir-arrow)"/>{label}</g>'
    )


def _svg_legend(entries: list[tuple[str, str]], y: float) -> tuple[str, float]:
    rows = "".join(
        f'<rect x="{MARGIN:.1f}" y="{y + 4 + 20 * i:.1f}" width="14" height="14" rx="3" fill="{colour}" stroke="#666666"/>'
        f'<text x="{MARGIN + 22:.1f}" y="{y + 15 + 20 * i:.1f}" style="{FONT}">{html.escape(text)}</text>'
        for i, (text, colour) in enumerate(entries)
    )
    return f'<g class="nir-legend" id="legend">{rows}</g>', 20.0 * len(entries) + 8


@dataclass(frozen=True)
class DrawPartition:
    """A pass manager hook (`after_pass`): draws the partition after the named passes as
    `NNN-<pass>.svg`, beside the IR dump of the same step."""

    passes: tuple[str, ...]
    option: str = "svg_after"

    def __call__(self, pass_name: str, module, dump_base: str) -> None:
        with open(dump_base + ".svg", "w") as f:
            f.write(partition_svg(module, title=f"after {pass_name}"))
