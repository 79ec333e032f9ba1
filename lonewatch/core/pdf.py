"""PDFs from HTML templates, made by WeasyPrint (the locate summary, letters).

Every document is self-contained: nothing is fetched while it is rendered, least of all
from the network (the renderer refuses every URL), so a template can never make the
server call an address.
"""

from django.template.loader import render_to_string


class PdfUnavailable(RuntimeError):
    """WeasyPrint, or the Pango library it needs, is missing on this server."""


def render(template: str, context: dict) -> bytes:
    """The PDF of ``template`` rendered with ``context``."""
    return _document(render_to_string(template, context)).write_pdf()


def render_fitting(template: str, contexts, *, most_pages: int = 1) -> bytes:
    """The PDF of the first of ``contexts`` whose document fits in ``most_pages`` (the
    last one if none does)."""
    document = None
    for context in contexts:
        document = _document(render_to_string(template, context))
        if len(document.pages) <= most_pages:
            break
    return document.write_pdf()


def _document(html: str):
    try:
        from weasyprint import HTML  # lazy: heavy; loaded for a PDF only
        from weasyprint.urls import URLFetcher  # lazy: heavy; loaded for a PDF only
    except (ImportError, OSError) as missing:
        raise PdfUnavailable("PDFs cannot be made on this server.") from missing

    class Offline(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"a Lonewatch document loads nothing; refused {url[:80]}")

    return HTML(string=html, url_fetcher=Offline()).render()
