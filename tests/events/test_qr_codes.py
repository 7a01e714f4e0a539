"""The real QR images: decoded with a real decoder (zxing-cpp), small enough to scan, and they check in."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from merit_bank.events import tokens
from merit_bank.extensions import db
from merit_bank.households import services as household_services
from merit_bank.households.models import Household
from merit_bank.qr import qr_version
from tests.events.event_helpers import T0, balance, make_event

_NUMBER = r"(-?\d+(?:\.\d+)?)"


def rasterize_svg(svg: bytes, scale: int = 8) -> Image.Image:
    """Draw an SVG path made of M/H/V/L/Z commands (what qrcode's SvgPathImage writes) onto a PNG.

    cairosvg is not installed; the path language used for QR modules is small enough to draw here,
    and anything this function does not understand fails the test instead of passing silently.
    """
    text = svg.decode()
    view = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', text)
    assert view, "an SVG without a viewBox"
    width, height = (round(float(v) * scale) for v in view.groups())
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    paths = re.findall(r'<path[^>]* d="([^"]+)"', text)
    assert paths, "an SVG without a path"
    for d in paths:
        tokens_ = [m.group(0) for m in re.finditer(r"[MHVLZmhvlz]|" + _NUMBER, d.replace(",", " "))]
        polygon: list[tuple[float, float]] = []
        x = y = 0.0
        command = ""
        values: list[float] = []
        for tok in tokens_:
            if tok in "MHVLZmhvlz":
                command = tok
                if command in "Zz":
                    if polygon:
                        draw.polygon([(px * scale, py * scale) for px, py in polygon], fill=0)
                    polygon = []
                continue
            values.append(float(tok))
            if command in "ML":
                if len(values) < 2:
                    continue
                if command == "M" and polygon:
                    draw.polygon([(px * scale, py * scale) for px, py in polygon], fill=0)
                    polygon = []
                x, y = values
                polygon.append((x, y))
                values = []
                command = "L"  # further pairs after M are line-tos
            elif command == "H":
                x = values.pop()
                polygon.append((x, y))
            elif command == "V":
                y = values.pop()
                polygon.append((x, y))
            else:
                raise AssertionError(f"unsupported SVG path command {command!r}")
        if polygon:
            draw.polygon([(px * scale, py * scale) for px, py in polygon], fill=0)
    return image


def decode(image: Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, "expected exactly one QR code"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def qr_details(image: Image.Image) -> tuple[str, str]:
    """The symbol version and error correction level, as the decoder read them from the image."""
    result = zxingcpp.read_barcodes(image)[0]
    return result.extra["Version"], result.ec_level


@pytest.mark.parametrize("rotating", [False, True])
def test_the_event_png_and_svg_decode_and_check_in(client, world, clock, rotating):
    event = make_event(client, world, rotating=rotating)
    headers = world.h(world.clerk)
    png = client.get(f"/api/v1/events/{event['id']}/qr.png", headers=headers)
    svg = client.get(f"/api/v1/events/{event['id']}/qr.svg", headers=headers)
    assert png.mimetype == "image/png" and svg.mimetype == "image/svg+xml"

    from_png = decode(Image.open(io.BytesIO(png.data)))
    from_svg = decode(rasterize_svg(svg.data))
    assert from_png == from_svg == event["checkin_url"]
    version, level = qr_details(Image.open(io.BytesIO(png.data)))
    assert int(version) <= 4 and level in ("M", "Q", "H")

    # The phone opens the URL; the landing page takes the token from its path.
    path = urlsplit(from_png).path
    assert path.startswith("/C/")
    token = path.removeprefix("/C/")
    response = client.post("/api/v1/checkins", json={"token": token}, headers=world.h(world.villagers[0]))
    assert response.status_code == 201, response.get_json()
    assert balance(client, world, world.households[0]) == 5


def test_the_event_url_stays_alphanumeric_and_at_version_3_for_a_real_host(app, clock):
    with app.test_request_context():
        app.config["PUBLIC_BASE_URL"] = "https://jifen.xfc.gov.cn"
        for event_id in (7, 12_345):
            for token in (tokens.static_token(event_id), tokens.rotating_token(event_id, T0)):
                url = tokens.checkin_url(token)
                assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", url), url  # QR alphanumeric mode
                assert len(url) <= 61 and qr_version(url) <= 3, (url, qr_version(url))
        # Even a long deployment URL stays within version 4.
        app.config["PUBLIC_BASE_URL"] = "https://merit-bank.some-county.example.gov.cn:8443"
        long_url = tokens.checkin_url(tokens.rotating_token(9_999_999, T0))
        assert qr_version(long_url) <= 4, long_url


def test_the_household_card_decodes_at_version_6_or_less(client, world):
    household = world.households[0]
    response = client.get(
        f"/api/v1/households/{household['id']}/card.png", headers=world.h(world.villagers[0])
    )
    image = Image.open(io.BytesIO(response.data))
    text = decode(image)
    version, level = qr_details(image)
    assert int(version) <= 6 and level in ("M", "Q", "H")
    with world.app.app_context():
        assert household_services.household_from_card(text).id == household["id"]
        big = Household(id=2_000_000_000, card_version=999, village_id=1, code="X", head_name="x")
        assert qr_version(household_services.card_token(big)) <= 6
        db.session.rollback()

    event = make_event(client, world)
    checked = client.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"card_token": text, "member_id": household["member_ids"][1]},
        headers=world.h(world.clerk),
    )
    assert checked.status_code == 201
