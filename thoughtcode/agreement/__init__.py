"""Inter-rater agreement and validation of coders against reference labels.

Public API::

    agree(data, level=..., order=..., weights=..., bootstrap=..., seed=...) -> AgreementResult
    validate(coded, reference, ...) -> ValidationResult        (frames or CSV/JSONL/Parquet paths)
    krippendorff_alpha(data, level=...), fleiss_kappa(data) -> Coefficient   (one coefficient, fast)
    write_report(result, "report.html" | "report.md"); format_text(result) -> str

Inputs are the long labels table (unit_id, coder, label; rows with status 'failed' are missing), a
wide table (rows units, columns coders), a CSV/JSONL/Parquet path, or a units x coders array.
This room reads labels only: it never calls coders or analyses.
"""

from thoughtcode.agreement.agree import agree, agree_ratings, fleiss_kappa, krippendorff_alpha
from thoughtcode.agreement.data import RatingData, load_ratings
from thoughtcode.agreement.multilabel import agree_sets, jaccard_distance, masi_distance
from thoughtcode.agreement.report import format_text, to_html, to_markdown, write_report
from thoughtcode.agreement.results import AgreementResult, Coefficient, ValidationResult
from thoughtcode.agreement.validation import validate

__all__ = [
    "AgreementResult",
    "Coefficient",
    "RatingData",
    "ValidationResult",
    "agree",
    "agree_ratings",
    "agree_sets",
    "fleiss_kappa",
    "format_text",
    "jaccard_distance",
    "krippendorff_alpha",
    "load_ratings",
    "masi_distance",
    "to_html",
    "to_markdown",
    "validate",
    "write_report",
]
