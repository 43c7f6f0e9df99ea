"""The home page at 1280-1920 px: with an alert and a provider error shown,
no text is squeezed below its width, the panels use at least 75 % of the width and the page
stays within about 2.5 screen heights."""

import pytest

from tests.fixtures.home import a_day_with_an_alert

SIZES = {"1280x800": (1280, 800), "1400x1000": (1400, 1000), "1920x1080": (1920, 1080)}
# Elements whose box is narrower than their longest word: "one letter per line".
SQUEEZED = """() => {
    const canvas = document.createElement('canvas').getContext('2d');
    const squeezed = [];
    for (const el of document.querySelectorAll('#content *')) {
        const text = [...el.childNodes].filter(n => n.nodeType === 3)
            .map(n => n.textContent).join(' ').trim();
        if (!text || el.offsetParent === null) continue;
        const style = getComputedStyle(el);
        canvas.font = style.font;
        const longest = Math.max(...text.split(/\\s+/).map(w => canvas.measureText(w).width));
        const inner = el.clientWidth || el.getBoundingClientRect().width;
        if (style.display !== 'inline' && inner + 1 < Math.min(longest, 120))
            squeezed.push(el.tagName + ': ' + text.slice(0, 40));
    }
    return squeezed;
}"""
SPAN = """() => {
    const boxes = [...document.querySelectorAll('#content .portal-dashboard, #content .module')]
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
    return (Math.max(...boxes.map(r => r.right)) - Math.min(...boxes.map(r => r.left)))
        / document.documentElement.clientWidth;
}"""


@pytest.mark.browser
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_the_home_page_lays_out_with_an_alert_shown(staff_page, staff_user, size, screenshot):
    a_day_with_an_alert(staff_user)
    width, height = size
    staff_page.set_viewport_size({"width": width, "height": height})

    staff_page.goto("/admin/")

    staff_page.locator("#portal-alerts .alert-open").wait_for()
    screenshot("home")
    assert staff_page.evaluate(SQUEEZED) == []
    assert staff_page.evaluate(SPAN) >= 0.75
    assert staff_page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways"
    page_height = staff_page.evaluate("document.documentElement.scrollHeight")
    assert page_height <= 2.5 * height, f"{page_height} px high"


@pytest.mark.browser
def test_a_fresh_install_squeezes_no_header(staff_page):
    staff_page.goto("/admin/")

    staff_page.locator(".daily").wait_for()
    assert staff_page.evaluate(SQUEEZED) == []
