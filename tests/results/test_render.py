"""The generic renderer: blocks -> Markdown and HTML (rt_core.results.render)."""

from rt_core.results.render import Code, Figure, Heading, Table, Text, render_html, render_markdown


def test_renderer_turns_markdown_tables_into_html_tables(tmp_path):
    blocks = [Heading("T", 1), Heading("Section"), Text("a | b\n---|---\n1 | 2"),
              Table(("x", "y"), (("1|2", "<b>"),), row_classes=("agrees",)), Code("x < y")]
    html = render_html(blocks, "T", tmp_path)
    assert html.count("<table>") == 2 and "<td>1|2</td>" in html and "&lt;b&gt;" in html
    assert 'class="agrees"' in html and "x &lt; y" in html and 'href="#section"' in html
    md = render_markdown(blocks)
    assert "| 1\\|2 | \\<b\\> |" in md and md.startswith("# T\n")
    (tmp_path / "f.png").write_bytes(b"\x89PNG")
    assert "data:image/png;base64," in render_html([Figure("f.png", "cap")], "T", tmp_path)


def test_markup_in_any_text_is_shown_as_text_never_run(tmp_path):
    """Names are data: raw HTML in a heading, a Markdown text (markdown-it runs with HTML disabled), a cell
    or a caption reaches the page escaped."""
    from rt_core.reporting import Heading, Table, Text, render_html

    evil = "<img src=x onerror=alert(1)>"
    html = render_html([Heading(evil), Text(f"plugin {evil} and <script>alert(2)</script>"),
                        Table(("plugin",), ((evil,),), caption=evil)], evil, tmp_path)
    assert "<img src" not in html and "<script>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 5 and "&lt;script&gt;alert(2)" in html


def test_a_code_block_is_fenced_longer_than_any_backticks_inside_it():
    md = render_markdown([Code("a\n```\n<b>x</b>\n````")])
    assert md == "`````\na\n```\n<b>x</b>\n````\n`````\n"
