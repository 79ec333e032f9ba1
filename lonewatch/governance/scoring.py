"""The NHS 5×5 risk matrix (RSK-03): likelihood 1–5 times consequence 1–5 gives a score
of 1–25, and the score its band. The bands are the NHS's usual ones: 1–3 low, 4–6
moderate, 8–12 high, 15–25 extreme (7, 11, 13 and 14 cannot occur)."""

from dataclasses import dataclass

LIKELIHOOD = {1: "Rare", 2: "Unlikely", 3: "Possible", 4: "Likely", 5: "Almost certain"}
CONSEQUENCE = {1: "Negligible", 2: "Minor", 3: "Moderate", 4: "Major", 5: "Catastrophic"}
BANDS = (("low", 3), ("moderate", 6), ("high", 12), ("extreme", 25))
BAND_NAMES = {"low": "Low", "moderate": "Moderate", "high": "High", "extreme": "Extreme"}


class ScoreError(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Score:
    likelihood: int
    consequence: int

    def __post_init__(self):
        for name, value in (("likelihood", self.likelihood),
                            ("consequence", self.consequence)):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise ScoreError(f"The {name} must be a whole number from 1 to 5.", name)

    @property
    def value(self) -> int:
        return self.likelihood * self.consequence

    @property
    def band(self) -> str:
        return band(self.value)

    def __str__(self) -> str:
        return (f"{self.value} ({BAND_NAMES[self.band].lower()}: "
                f"{LIKELIHOOD[self.likelihood].lower()} × "
                f"{CONSEQUENCE[self.consequence].lower()})")


def band(score: int) -> str:
    """The band of a score from 1 to 25."""
    if not 1 <= score <= 25:
        raise ValueError(f"a 5×5 score is from 1 to 25, not {score}")
    return next(name for name, top in BANDS if score <= top)
