"""Text from the record never becomes Markdown structure on a card (issue 16, item 8; issue 15).

Ids, display texts and free text reach the card detail through fact values, fact notes, draft-order displays and
pathway params. Each path is fed hostile text (an image, a link, raw HTML, a table pipe, an unfilled-looking
placeholder, control characters) and the detail is rendered with a CommonMark parser: no image, no link, no HTML
may appear, and the text itself stays readable. The same holds for every card of every fixture patient.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from cards_corpus import render_all
from markdown_it import MarkdownIt

from cds_service.cards.actions import load_order_templates
from cds_service.cards.render import Renderer, markdown_text
from cds_service.cards.templates import load_templates
from cds_service.cards.validate import check_card
from cds_service.facts.catalogue import load_fact_catalogue
from cds_service.facts.model import Fact, Facts
from cds_service.pathways.model import DraftOrder, EvalContext, Finding, tr

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
HOSTILE = "![t](http://evil.example/x.png) [klik](http://evil.example) <img src=x onerror=alert(1)> a|b {due_date}\x07"
MD = MarkdownIt("commonmark").enable("table")
RENDERER = Renderer(templates=load_templates(), catalogue=load_fact_catalogue(), order_templates=load_order_templates())


def html(markdown: str) -> str:
    return MD.render(markdown)


def assert_inert(detail: str) -> None:
    rendered = html(detail)
    assert "<img" not in rendered and "<a " not in rendered and "<script" not in rendered, rendered
    assert "\x07" not in detail
    check_card({"summary": "s", "indicator": "info", "detail": detail, "source": {"label": "l"}})  # no placeholder


def test_markdown_text_keeps_the_words_and_drops_the_structure():
    escaped = markdown_text(HOSTILE)
    assert_inert(escaped)
    assert "evil.example/x.png" in html(escaped) and "klik" in html(escaped)  # shown, not acted on
    assert markdown_text("line one\nline two\r\n# heading") == "line one line two \\# heading"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_hostile_fact_value_and_note_stay_text(language):
    facts = Facts(values={"primary_tumour": Fact.of("primary_tumour", HOSTILE, notes=(HOSTILE,)),
                          "solid_cancer": Fact.of("solid_cancer", True)}, now=NOW)
    finding = Finding("LM-REPEAT-CSF", facts_used=("primary_tumour", "solid_cancer"),
                      trace=(tr("x", "x"),), params={"negatives": 1})
    card = RENDERER.card(finding, facts, EvalContext(now=NOW), language)
    assert_inert(card["detail"])


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_hostile_draft_order_display_and_id_stay_text(language):
    """A draft whose display carries an image and whose id breaks FHIR id syntax (issue 16 item 8)."""
    draft = DraftOrder(id="ServiceRequest/![t](http://evil.example/y.png)", kind="mri-spine",
                       resource={"resourceType": "ServiceRequest"}, display=HOSTILE)
    ctx = EvalContext(now=NOW, hook="order-sign", draft_orders=(draft,), patient_id="p1")
    finding = Finding("SM-MRI-URGENCY", variant="order", params={"deadline": NOW}, order_id=draft.id)
    card = RENDERER.card(finding, Facts(now=NOW), ctx, language)
    assert_inert(card["detail"])
    assert "evil.example/x.png" in card["detail"]  # the display is shown as text
    assert "y.png" not in card["detail"]  # the id is not shown at all


@pytest.mark.parametrize("language", ["nl", "en"])
def test_hostile_pathway_params_stay_text(language):
    finding = Finding("RT-DIRECT-REFERRAL-BLOCKED", params={"orders": HOSTILE})
    card = RENDERER.card(finding, Facts(now=NOW), EvalContext(now=NOW, hook="order-sign"), language)
    assert_inert(card["detail"])


def test_no_card_of_any_fixture_patient_renders_an_image_a_link_or_html():
    for card in render_all():
        rendered = html(card["detail"])
        assert "<img" not in rendered and "<a " not in rendered, (card["rule"], card["case"])
