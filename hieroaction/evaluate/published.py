"""Published AQA results on the real benchmark videos (from the papers, as collected in docs/DATASETS.md).

Why a separate table: these numbers were measured on real FineDiving / MTL-AQA videos with the real test splits. This
project evaluates on rendered stand-ins (the real videos are not redistributable), so the report prints them apart,
labelled as published results on real videos: context for the reader, never a like-for-like comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PUBLISHED_TITLE = "Published results on real videos (from the papers; not measured here, not comparable one-to-one)"


@dataclass(frozen=True)
class PublishedResult:
    benchmark: str
    method: str
    venue: str
    srcc: float
    rl2_x100: float | None  # RL2 × 100 as the papers print it; None where not published


PUBLISHED_RESULTS: tuple[PublishedResult, ...] = (
    PublishedResult("FineDiving (with dive number)", "TSA", "CVPR 2022", 0.9203, 0.3420),
    PublishedResult("FineDiving", "CoRe", "ICCV 2021", 0.9061, 0.3615),
    PublishedResult("FineDiving", "MUSDL", "CVPR 2020", 0.8978, 0.3704),
    PublishedResult("FineDiving-HM", "FineParser", "CVPR 2024", 0.9435, 0.2602),
    PublishedResult("FineDiving-HM", "FineCausal", "2025", 0.9447, 0.2338),
    PublishedResult("MTL-AQA", "CoRe", "ICCV 2021", 0.9341, 0.365),
    PublishedResult("MTL-AQA", "TPT", "ECCV 2022", 0.9607, None),
)


def published_rows() -> list[dict]:
    return [asdict(row) for row in PUBLISHED_RESULTS]
