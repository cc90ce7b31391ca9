"""The login captcha (登录验证码): distorted digits drawn as SVG strokes by the server, no outside service.

A challenge is stateless: the client receives the picture and a value signed with the server's key that
holds a keyed hash of the answer (never the answer itself), valid for a few minutes and accepted once.
The digits are paths, not text, each bent, rotated and scaled differently, crossed by noise curves.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
from dataclasses import dataclass

from crm_core.auth import OneTime, sign, unsign

PURPOSE = "captcha"
TTL_S = 300.0
DIGITS = 5
WIDTH, HEIGHT = 150, 50
PROMPT = "请输入图中的数字 Type the digits in the picture"

# A stroke font on a 10 x 16 grid: each digit is one or more polylines.
_FONT: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(2, 1), (8, 1), (9, 4), (9, 12), (8, 15), (2, 15), (1, 12), (1, 4), (2, 1)]],
    "1": [[(3, 4), (6, 1), (6, 15)], [(3, 15), (9, 15)]],
    "2": [[(1, 4), (3, 1), (7, 1), (9, 4), (9, 6), (1, 15), (9, 15)]],
    "3": [[(1, 2), (8, 1), (5, 7), (9, 10), (8, 14), (4, 15), (1, 13)]],
    "4": [[(7, 15), (7, 1), (1, 11), (9, 11)]],
    "5": [[(9, 1), (2, 1), (1, 7), (6, 6), (9, 9), (9, 12), (6, 15), (1, 14)]],
    "6": [[(8, 1), (3, 4), (1, 10), (2, 14), (5, 15), (8, 14), (9, 11), (7, 8), (3, 8), (1, 10)]],
    "7": [[(1, 1), (9, 1), (4, 15)], [(3, 8), (8, 8)]],
    "8": [[(5, 8), (2, 6), (2, 2), (5, 1), (8, 2), (8, 6), (5, 8), (1, 11), (2, 14), (5, 15), (8, 14), (9, 11),
           (5, 8)]],
    "9": [[(9, 6), (7, 8), (3, 8), (1, 5), (2, 2), (5, 1), (8, 2), (9, 6), (8, 11), (5, 15), (2, 14)]],
}
# Full-width digits (typed with a Chinese input method) count as the digits they look like.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True, slots=True)
class Challenge:
    token: str  # sent back with the answer
    svg: str  # the picture
    answer: str  # known to the server only while it draws; never sent


def _answer_mac(key: str, challenge_id: str, answer: str) -> str:
    return hmac.new(key.encode(), f"captcha-answer:{challenge_id}:{answer}".encode(), hashlib.sha256).hexdigest()


def _digit_path(digit: str, x0: float, rng: random.Random) -> str:
    scale = rng.uniform(1.55, 1.9)
    angle = rng.uniform(-20, 20)
    skew = rng.uniform(-10, 10)
    y0 = rng.uniform(4, HEIGHT - 16 * scale - 4)
    parts = []
    for line in _FONT[digit]:
        points = [(x + rng.uniform(-0.6, 0.6), y + rng.uniform(-0.6, 0.6)) for x, y in line]
        parts.append("M" + " L".join(f"{x:.2f},{y:.2f}" for x, y in points))
    width = rng.uniform(1.7, 2.4) / scale
    shade = rng.randrange(20, 90)
    return (
        f'<path d="{" ".join(parts)}" fill="none" stroke="rgb({shade},{shade},{shade + 40})" '
        f'stroke-width="{width:.2f}" stroke-linecap="round" stroke-linejoin="round" '
        f'transform="translate({x0:.1f},{y0:.1f}) rotate({angle:.1f} {5 * scale:.1f} {8 * scale:.1f}) '
        f'skewX({skew:.1f}) scale({scale:.2f})"/>'
    )


def _noise(rng: random.Random) -> list[str]:
    curves = []
    for _ in range(5):
        x1, y1 = rng.uniform(0, WIDTH * 0.3), rng.uniform(0, HEIGHT)
        cx, cy = rng.uniform(0, WIDTH), rng.uniform(-HEIGHT, 2 * HEIGHT)
        x2, y2 = rng.uniform(WIDTH * 0.7, WIDTH), rng.uniform(0, HEIGHT)
        shade = rng.randrange(60, 160)
        curves.append(
            f'<path d="M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}" fill="none" '
            f'stroke="rgb({shade},{shade + 20},{shade})" stroke-width="{rng.uniform(0.8, 1.8):.1f}"/>'
        )
    for _ in range(30):
        curves.append(
            f'<circle cx="{rng.uniform(0, WIDTH):.1f}" cy="{rng.uniform(0, HEIGHT):.1f}" '
            f'r="{rng.uniform(0.4, 1.2):.1f}" fill="rgb(120,120,120)"/>'
        )
    return curves


def render(answer: str, rng: random.Random) -> str:
    """The SVG picture of ``answer`` (digits only)."""
    step = (WIDTH - 16) / len(answer)
    shapes = [_digit_path(d, 6 + i * step + rng.uniform(-2, 2), rng) for i, d in enumerate(answer)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="captcha">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="rgb(246,244,236)"/>'
        + "".join(_noise(rng) + shapes)
        + "</svg>"
    )


def new_challenge(key: str, rng: random.Random | None = None, now: float | None = None) -> Challenge:
    rng = rng or random.SystemRandom()
    answer = "".join(rng.choice("0123456789") for _ in range(DIGITS))
    challenge_id = secrets.token_urlsafe(12)
    token = sign(key, PURPOSE, {"id": challenge_id, "a": _answer_mac(key, challenge_id, answer)}, TTL_S, now)
    return Challenge(token, render(answer, rng), answer)


def solved(key: str, token: str, answer: str, used: OneTime, now: float | None = None) -> bool:
    """True once for a right answer to a live challenge; a challenge is spent by any attempt."""
    now = time.time() if now is None else now
    payload = unsign(key, PURPOSE, token, now)
    if payload is None:
        return False
    challenge_id = str(payload.get("id", ""))
    if not used.first_use(f"captcha:{challenge_id}", float(payload["exp"]), now):  # type: ignore[arg-type]
        return False
    typed = answer.strip().translate(_FULL_WIDTH)
    return hmac.compare_digest(str(payload.get("a", "")), _answer_mac(key, challenge_id, typed))
