"""`textmill mix fit`: a mixture law of loss in domain ratio and training tokens, and the CMR.

The seed paper ("CMR Scaling Law", continual pre-training) finds that loss follows a power law in
the mixture ratio and the number of training tokens, and names the Critical Mixture Ratio: the
largest share of domain data that keeps the general ability. Its exact functional form is not
confirmed here, so several candidate forms are fitted to each loss (general and domain) and the
one with the lowest AICc is chosen; every form's parameters and residuals are reported.

Notation: r is the domain share of the training tokens (0 = general data only), D the training
tokens. Each form is fitted with D measured in units of D_ref (the geometric mean of the measured
budgets) for conditioning; the parameters reported are for D in tokens.

**Critical mixture ratio.** For a tolerance τ on general loss, a target budget D* (default: the
largest measured budget) and a baseline general loss L₀ (default: the fitted general law at r = 0
and D*, i.e. the same budget of general data only), the CMR is the largest r in [0, 1] such that
the fitted general loss L_g(r', D*) ≤ L₀ + τ for every r' in [0, r] (the first crossing, so a
law that dips and rises again is not read past its first excess). τ is absolute (nats/token) or
relative to L₀ (`"1%"`). When L_g(0, D*) is already above L₀ + τ (a user baseline lower than the
law reaches) there is no such ratio; when no ratio in [0, 1] exceeds it, the CMR is 1.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textmill.io import InputError

COLUMNS = ("ratio", "tokens", "general_loss", "domain_loss")
LOSSES = ("general_loss", "domain_loss")
DEFAULT_TOLERANCE = "1%"  # textmill's default, not the paper's (it is not confirmed there)
MIN_POINTS = 5  # the smallest candidate form has 4 parameters; AICc needs n >= k + 2
CMR_GRID = 4001  # ratios scanned for the first crossing before it is refined by bisection


class LawInputError(InputError):
    """Measurements a law cannot be fitted to; the message names the file and the line."""


# ---------------------------------------------------------------- candidate forms


def _pow(base: np.ndarray, exponent: float) -> np.ndarray:
    return np.power(np.maximum(base, 0.0), exponent)


@dataclass(frozen=True)
class LawForm:
    """One candidate L(r, D). `predict(theta, r, x)` takes x = D / D_ref; `token_exponents`
    names, for each coefficient multiplying a power of x, the exponent parameter: the reported
    coefficient for D in tokens is value × D_ref ** exponent."""

    name: str
    formula: str
    parameters: tuple[str, ...]
    predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    token_exponents: Mapping[str, str] = field(default_factory=dict)


INF = math.inf
FORMS: dict[str, LawForm] = {
    form.name: form
    for form in (
        LawForm(
            "power_r",
            "E + A/D^alpha + B*r^beta",
            ("E", "A", "alpha", "B", "beta"),
            lambda t, r, x: t[0] + t[1] * x ** -t[2] + t[3] * _pow(r, t[4]),
            (0.0, 0.0, 0.01, -INF, 0.05),
            (INF, INF, 3.0, INF, 5.0),
            {"A": "alpha"},
        ),
        LawForm(
            "power_1mr",
            "E + A/D^alpha + B*(1-r)^beta",
            ("E", "A", "alpha", "B", "beta"),
            lambda t, r, x: t[0] + t[1] * x ** -t[2] + t[3] * _pow(1 - r, t[4]),
            (0.0, 0.0, 0.01, -INF, 0.05),
            (INF, INF, 3.0, INF, 5.0),
            {"A": "alpha"},
        ),
        LawForm(
            "interaction_r",
            "E + A/D^alpha + B*r^beta/D^gamma",
            ("E", "A", "alpha", "B", "beta", "gamma"),
            lambda t, r, x: t[0] + t[1] * x ** -t[2] + t[3] * _pow(r, t[4]) * x ** -t[5],
            (0.0, 0.0, 0.01, -INF, 0.05, -2.0),
            (INF, INF, 3.0, INF, 5.0, 3.0),
            {"A": "alpha", "B": "gamma"},
        ),
        LawForm(
            "interaction_1mr",
            "E + A/D^alpha + B*(1-r)^beta/D^gamma",
            ("E", "A", "alpha", "B", "beta", "gamma"),
            lambda t, r, x: t[0] + t[1] * x ** -t[2] + t[3] * _pow(1 - r, t[4]) * x ** -t[5],
            (0.0, 0.0, 0.01, -INF, 0.05, -2.0),
            (INF, INF, 3.0, INF, 5.0, 3.0),
            {"A": "alpha", "B": "gamma"},
        ),
        LawForm(  # a power law in the domain tokens r*D, c*D general tokens counting as domain
            "effective_r",
            "E + A/(D*(r+c))^alpha",
            ("E", "A", "alpha", "c"),
            lambda t, r, x: t[0] + t[1] * _pow(x * (r + t[3]), -t[2]),
            (0.0, 0.0, 0.01, 1e-4),
            (INF, INF, 3.0, 100.0),
            {"A": "alpha"},
        ),
        LawForm(  # the same in the general tokens (1-r)*D
            "effective_1mr",
            "E + A/(D*(1-r+c))^alpha",
            ("E", "A", "alpha", "c"),
            lambda t, r, x: t[0] + t[1] * _pow(x * (1 - r + t[3]), -t[2]),
            (0.0, 0.0, 0.01, 1e-4),
            (INF, INF, 3.0, 100.0),
            {"A": "alpha"},
        ),
    )
}


# ---------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Measurements:
    """One row per trained model: domain ratio, training tokens and the two held-out losses."""

    ratio: np.ndarray
    tokens: np.ndarray
    general_loss: np.ndarray
    domain_loss: np.ndarray
    source: str = "measurements"

    def __len__(self) -> int:
        return len(self.ratio)

    def loss(self, name: str) -> np.ndarray:
        return getattr(self, name)


def read_measurements(path: str | Path) -> Measurements:
    """A CSV with (at least) the columns ratio, tokens, general_loss, domain_loss."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in COLUMNS if name not in header]
            if missing:
                raise LawInputError(
                    f"{path}: missing column(s) {', '.join(missing)} (the header has "
                    f"{', '.join(header) or 'nothing'}; needed: {', '.join(COLUMNS)})"
                )
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as error:
        raise LawInputError(f"{path}: not a UTF-8 CSV file ({error.reason})") from None
    except (FileNotFoundError, IsADirectoryError) as error:
        raise LawInputError(f"{path}: {error.strerror.lower()}") from None
    values = {name: np.empty(len(rows)) for name in COLUMNS}
    for index, (line, row) in enumerate(rows):
        for name in COLUMNS:
            text = (row.get(name) or "").strip()
            try:
                values[name][index] = float(text)
            except ValueError:
                raise LawInputError(
                    f"{path}, line {line}: {name} is {text!r}, not a number"
                ) from None
    lines = [line for line, _ in rows]
    return validate_measurements(values, source=str(path), lines=lines)


def validate_measurements(
    columns: Mapping[str, Sequence[float] | np.ndarray],
    *,
    source: str = "measurements",
    lines: Sequence[int] | None = None,
) -> Measurements:
    """Measurements from columns (a dict, a pandas/pyarrow table's columns ...), checked: every
    value finite, 0 <= ratio <= 1, tokens > 0, losses > 0, enough distinct points to fit."""
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise LawInputError(f"{source}: missing column(s) {', '.join(missing)}")
    arrays = {name: np.asarray(columns[name], dtype=np.float64).reshape(-1) for name in COLUMNS}
    count = len(arrays["ratio"])
    if any(len(values) != count for values in arrays.values()):
        raise LawInputError(f"{source}: the columns {', '.join(COLUMNS)} differ in length")

    def where(index: int) -> str:
        return f"line {lines[index]}" if lines is not None else f"row {index}"

    checks = (
        ("is not a finite number", lambda name, v: ~np.isfinite(v), COLUMNS),
        ("is outside [0, 1]", lambda name, v: (v < 0) | (v > 1), ("ratio",)),
        ("must be > 0", lambda name, v: v <= 0, ("tokens", *LOSSES)),
    )
    for problem, test, names in checks:
        for name in names:
            bad = np.flatnonzero(test(name, arrays[name]))
            if len(bad):
                first = int(bad[0])
                raise LawInputError(
                    f"{source}, {where(first)}: {name} = {arrays[name][first]:g} {problem}"
                    + (f" ({len(bad)} rows like it)" if len(bad) > 1 else "")
                )
    if count < MIN_POINTS:
        raise LawInputError(
            f"{source}: {count} measurement(s); a mixture law needs at least {MIN_POINTS}"
        )
    for name, label in (("ratio", "ratios"), ("tokens", "token budgets")):
        distinct = np.unique(arrays[name])
        if len(distinct) < 2:
            raise LawInputError(
                f"{source}: every row has {name} = {distinct[0]:g}; a law in ratio and tokens "
                f"needs at least 2 distinct {label}"
            )
    return Measurements(**arrays, source=source)


# ---------------------------------------------------------------- fitting


@dataclass(frozen=True)
class FormFit:
    """One form fitted to one loss: parameters (for D in tokens), residuals and AICc."""

    form: str
    formula: str
    parameters: dict[str, float]
    rmse: float
    max_abs_error: float
    residuals: list[float]  # fitted - measured, per point in input order
    aicc: float
    at_bounds: list[str]  # parameters the fit pushed to a bound: the form is a poor match there
    theta: tuple[float, ...] = field(repr=False)  # the fitted vector, D in units of d_ref
    d_ref: float = field(repr=False, default=1.0)

    def predict(self, ratio: Any, tokens: Any) -> np.ndarray:
        r = np.asarray(ratio, dtype=np.float64)
        x = np.asarray(tokens, dtype=np.float64) / self.d_ref
        return FORMS[self.form].predict(np.asarray(self.theta), r, x)

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "formula": self.formula,
            "parameters": self.parameters,
            "rmse": self.rmse,
            "max_abs_error": self.max_abs_error,
            "aicc": self.aicc,
            "at_bounds": self.at_bounds,
            "residuals": self.residuals,
        }


def _starts(form: LawForm, r: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Several starting points: exponents over a small grid, offsets from the loss range, the
    sign of the ratio term from how loss moves with r."""
    spread = max(float(y.max() - y.min()), 1e-3)
    slope = float(np.polyfit(r, y, 1)[0]) if np.ptp(r) > 0 else 0.0
    starts = []
    for alpha in (0.3, 1.0):
        for offset in (0.5, 2.0):
            floor = max(float(y.min()) - offset * spread, 0.0)
            if form.name.startswith("effective"):
                for c in (0.03, 1.0):
                    starts.append([floor, offset * spread, alpha, c])
                continue
            sign = 1.0 if slope >= 0 else -1.0
            if form.name.endswith("1mr"):
                sign = -sign
            for beta in (0.5, 1.5):
                theta = [floor, offset * spread, alpha, sign * spread, beta]
                if form.name.startswith("interaction"):
                    theta.append(0.0)
                starts.append(theta)
    lower, upper = np.asarray(form.lower), np.asarray(form.upper)
    return [np.clip(np.asarray(s, dtype=np.float64), lower, upper) for s in starts]


def _aicc(rss: float, n: int, k: int) -> float:
    """Akaike's criterion with the small-sample correction (Gaussian residuals)."""
    rss = max(rss, 1e-300)
    return n * math.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def fit_form(form: LawForm, ratio: np.ndarray, tokens: np.ndarray, loss: np.ndarray) -> FormFit:
    """Least squares from every start (scipy's trust-region reflective, within the bounds);
    the start with the lowest residual sum wins."""
    from scipy.optimize import least_squares

    d_ref = float(np.exp(np.mean(np.log(tokens))))
    x = tokens / d_ref
    best = None
    for start in _starts(form, ratio, x, loss):
        with np.errstate(all="ignore"):
            result = least_squares(
                lambda theta: form.predict(theta, ratio, x) - loss,
                start,
                bounds=(form.lower, form.upper),
                x_scale="jac",
                max_nfev=1000,
            )
        if np.all(np.isfinite(result.fun)) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        raise ValueError(f"form {form.name}: no start converged")
    theta = best.x
    residuals = form.predict(theta, ratio, x) - loss
    rss = float(np.sum(residuals**2))
    values = dict(zip(form.parameters, (float(v) for v in theta), strict=True))
    reported = dict(values)
    for coefficient, exponent in form.token_exponents.items():
        reported[coefficient] = values[coefficient] * d_ref ** values[exponent]
    return FormFit(
        form=form.name,
        formula=form.formula,
        parameters=reported,
        rmse=math.sqrt(rss / len(loss)),
        max_abs_error=float(np.max(np.abs(residuals))),
        residuals=[float(v) for v in residuals],
        aicc=_aicc(rss, len(loss), len(form.parameters)),
        at_bounds=[
            name
            for name, value, low, high in zip(
                form.parameters, theta, form.lower, form.upper, strict=True
            )
            if math.isclose(value, low, abs_tol=1e-6) or math.isclose(value, high, rel_tol=1e-6)
        ],
        theta=tuple(float(v) for v in theta),
        d_ref=d_ref,
    )


@dataclass(frozen=True)
class LossLaw:
    """Every candidate form fitted to one loss, best (lowest AICc) first."""

    loss: str
    fits: list[FormFit]
    skipped: dict[str, str]  # form -> why it was not fitted

    @property
    def best(self) -> FormFit:
        return self.fits[0]

    def to_dict(self) -> dict[str, Any]:
        best_aicc = self.best.aicc
        return {
            "loss": self.loss,
            "selected": self.best.form,
            "forms": [{**f.to_dict(), "delta_aicc": f.aicc - best_aicc} for f in self.fits],
            "skipped": self.skipped,
        }


def fit_loss_law(
    measurements: Measurements, loss: str, forms: Sequence[str] | None = None
) -> LossLaw:
    names = list(forms or FORMS)
    unknown = [name for name in names if name not in FORMS]
    if unknown:
        raise ValueError(f"unknown law form(s) {', '.join(unknown)} (have: {', '.join(FORMS)})")
    fits, skipped = [], {}
    n = len(measurements)
    for name in names:
        form = FORMS[name]
        k = len(form.parameters)
        if n < k + 2:
            skipped[name] = f"{k} parameters need >= {k + 2} points, have {n}"
            continue
        fits.append(
            fit_form(form, measurements.ratio, measurements.tokens, measurements.loss(loss))
        )
    if not fits:
        raise LawInputError(f"{measurements.source}: too few points for any form: {skipped}")
    fits.sort(key=lambda f: f.aicc)
    return LossLaw(loss, fits, skipped)


# ---------------------------------------------------------------- the critical mixture ratio


@dataclass(frozen=True)
class Tolerance:
    """How far general loss may rise: `value` nats/token, or `value` × baseline if relative."""

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, text: str | float) -> Tolerance:
        """0.02 (nats/token) or "1%" (of the baseline general loss)."""
        raw = str(text).strip()
        relative = raw.endswith("%")
        try:
            value = float(raw[:-1] if relative else raw)
        except ValueError:
            raise ValueError(f"tolerance {raw!r}: a number (nats/token) or a percentage") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"tolerance {raw!r} must be a finite number >= 0")
        return cls(value / 100 if relative else value, relative)

    def nats(self, baseline: float) -> float:
        return self.value * baseline if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value * 100:g}% of the baseline" if self.relative else f"{self.value:g} nats"


@dataclass(frozen=True)
class CriticalRatio:
    ratio: float | None  # None: no ratio keeps general loss within the tolerance
    target_tokens: float
    baseline_loss: float
    baseline_from: str  # "law at r=0", "user" or "base model"
    tolerance: str
    tolerance_nats: float
    general_loss_at_ratio: float | None
    domain_loss_at_ratio: float | None
    bounded: bool  # False: the tolerance holds at every ratio up to 1
    extrapolated: list[str]  # what lies outside the measured range

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def critical_ratio(
    general: FormFit,
    target_tokens: float,
    tolerance: Tolerance,
    *,
    baseline_loss: float | None = None,
    baseline_source: str = "user",
    domain: FormFit | None = None,
    measured_ratios: tuple[float, float] = (0.0, 1.0),
    measured_tokens: tuple[float, float] | None = None,
) -> CriticalRatio:
    """The largest r with general loss within tolerance of the baseline for all r' <= r (the
    module docstring defines it); the first crossing is found on a grid, then by bisection."""
    from scipy.optimize import brentq

    baseline_from = baseline_source if baseline_loss is not None else "law at r=0"
    if baseline_loss is None:
        baseline_loss = float(general.predict(0.0, target_tokens))
    limit = baseline_loss + tolerance.nats(baseline_loss)

    def excess(r: float | np.ndarray) -> Any:
        return general.predict(r, target_tokens) - limit

    grid = np.linspace(0.0, 1.0, CMR_GRID)
    over = np.flatnonzero(excess(grid) > 0)
    bounded = True
    if len(over) and over[0] == 0:
        ratio = None
    elif not len(over):
        ratio, bounded = 1.0, False
    else:
        ratio = float(brentq(excess, grid[over[0] - 1], grid[over[0]], xtol=1e-9))
    extrapolated = []
    if measured_tokens and not measured_tokens[0] <= target_tokens <= measured_tokens[1]:
        extrapolated.append(
            f"target tokens {target_tokens:g} outside the measured {measured_tokens[0]:g}-"
            f"{measured_tokens[1]:g}"
        )
    if ratio is not None and not measured_ratios[0] <= ratio <= measured_ratios[1]:
        extrapolated.append(
            f"ratio {ratio:.4g} outside the measured {measured_ratios[0]:g}-{measured_ratios[1]:g}"
        )

    lowest = float(np.min(general.predict(grid, target_tokens)))
    if lowest <= 0:  # a fitted form can run below zero far outside its data (E at its bound)
        extrapolated.append(
            f"the general-loss law predicts a loss of {lowest:.4g} nats at {target_tokens:g} "
            "tokens: no loss is negative, so the law does not hold there and neither does "
            "this ratio (measure nearer the target)"
        )

    def at(law: FormFit | None) -> float | None:
        return None if law is None or ratio is None else float(law.predict(ratio, target_tokens))

    return CriticalRatio(
        ratio=ratio,
        target_tokens=float(target_tokens),
        baseline_loss=float(baseline_loss),
        baseline_from=baseline_from,
        tolerance=str(tolerance),
        tolerance_nats=float(tolerance.nats(baseline_loss)),
        general_loss_at_ratio=at(general),
        domain_loss_at_ratio=at(domain),
        bounded=bounded,
        extrapolated=extrapolated,
    )


# ---------------------------------------------------------------- the whole fit


@dataclass(frozen=True)
class CmrFit:
    """Laws for general and domain loss and the critical mixture ratio they give."""

    measurements: Measurements
    general: LossLaw
    domain: LossLaw
    critical: CriticalRatio

    def to_dict(self) -> dict[str, Any]:
        m = self.measurements
        return {
            "source": m.source,
            "points": len(m),
            "ratios": sorted({float(v) for v in m.ratio}),
            "tokens": sorted({float(v) for v in m.tokens}),
            "critical_mixture_ratio": self.critical.to_dict(),
            "general_loss": self.general.to_dict(),
            "domain_loss": self.domain.to_dict(),
            "measured": {name: m.loss(name).tolist() for name in COLUMNS},
            "loss_unit": "as measured (textmill mix search: nats per BPE token)",
        }

    def summary(self) -> str:
        """The text `textmill mix fit` prints."""
        m, c = self.measurements, self.critical
        lines = [
            f"{len(m)} points from {m.source}: ratios {_span(m.ratio)}, tokens {_span(m.tokens)}"
        ]
        for law in (self.general, self.domain):
            lines.append(f"{law.loss}: form (lowest AICc first)  RMSE  max|err|  dAICc  params")
            for fit in law.fits:
                params = ", ".join(f"{k}={v:.4g}" for k, v in fit.parameters.items())
                if fit.at_bounds:
                    params += f"  (at a bound: {', '.join(fit.at_bounds)})"
                lines.append(
                    f"  {fit.form:<16} {fit.formula:<36} {fit.rmse:.4f} {fit.max_abs_error:.4f} "
                    f"{fit.aicc - law.best.aicc:6.1f}  {params}"
                )
            for name, reason in law.skipped.items():
                lines.append(f"  {name:<16} skipped: {reason}")
            worst = int(np.argmax(np.abs(law.best.residuals)))
            lines.append(
                f"  selected {law.best.form}; worst point: ratio {m.ratio[worst]:g}, tokens "
                f"{m.tokens[worst]:g}, residual {law.best.residuals[worst]:+.4f}"
            )
        within = (
            c.tolerance
            if c.tolerance.endswith(" nats")
            else (f"{c.tolerance} ({c.tolerance_nats:.4f} nats)")
        )
        head = (
            f"critical mixture ratio at {c.target_tokens:g} tokens, general loss within {within} "
            f"of {c.baseline_loss:.4f} ({c.baseline_from})"
        )
        if c.ratio is None:
            lines.append(f"{head}: none (the law at r=0 is already beyond the tolerance)")
        else:
            bound = "" if c.bounded else " (the tolerance holds at every ratio)"
            lines.append(
                f"{head}: {c.ratio:.4f}{bound}; general loss there {c.general_loss_at_ratio:.4f}, "
                f"domain loss {c.domain_loss_at_ratio:.4f}"
            )
        lines.extend(f"  note: extrapolated: {note}" for note in c.extrapolated)
        return "\n".join(lines)


def _span(values: np.ndarray) -> str:
    distinct = np.unique(values)
    return f"{len(distinct)} values {distinct.min():g}-{distinct.max():g}"


def fit_cmr(
    measurements: Measurements | Mapping[str, Any] | str | Path,
    *,
    tolerance: Tolerance | str | float = DEFAULT_TOLERANCE,
    target_tokens: float | None = None,
    baseline_loss: float | None = None,
    baseline_source: str = "user",
    forms: Sequence[str] | None = None,
) -> CmrFit:
    """Fit every candidate form (or `forms`) to general and domain loss, choose each by AICc,
    and compute the critical mixture ratio at `target_tokens` (default: the largest measured)."""
    if isinstance(measurements, (str, Path)):
        measurements = read_measurements(measurements)
    elif not isinstance(measurements, Measurements):
        measurements = validate_measurements(measurements)
    if not isinstance(tolerance, Tolerance):
        tolerance = Tolerance.parse(tolerance)
    if target_tokens is not None and not target_tokens > 0:
        raise ValueError(f"target tokens must be > 0 (got {target_tokens})")
    if baseline_loss is not None and not (math.isfinite(baseline_loss) and baseline_loss > 0):
        raise ValueError(f"baseline loss must be a finite number > 0 (got {baseline_loss})")
    general = fit_loss_law(measurements, "general_loss", forms)
    domain = fit_loss_law(measurements, "domain_loss", forms)
    tokens = measurements.tokens
    critical = critical_ratio(
        general.best,
        float(target_tokens or tokens.max()),
        tolerance,
        baseline_loss=baseline_loss,
        baseline_source=baseline_source,
        domain=domain.best,
        measured_ratios=(float(measurements.ratio.min()), float(measurements.ratio.max())),
        measured_tokens=(float(tokens.min()), float(tokens.max())),
    )
    return CmrFit(measurements, general, domain, critical)


def write_fit(fit: CmrFit, report_path: str | Path) -> dict[str, Path]:
    """The report (JSON) and, beside it, the plot (PNG, same stem); returns their paths."""
    report_path = Path(report_path)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    plot_path = report_path.with_suffix(".png")
    written = {"report": report_path}
    if write_plot(fit, plot_path):
        written["plot"] = plot_path
    report = fit.to_dict()
    report["plot"] = plot_path.name if "plot" in written else None
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return written


def write_plot(fit: CmrFit, path: Path) -> bool:
    """Measured and fitted loss against ratio, one colour per budget, for both losses; the
    tolerance line and the CMR on the general panel. False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return False
    m, c = fit.measurements, fit.critical
    budgets = np.unique(m.tokens)
    if c.target_tokens not in budgets:
        budgets = np.append(budgets, c.target_tokens)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(budgets)))
    grid = np.linspace(0, 1, 201)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    for axis, law in zip(axes, (fit.general, fit.domain), strict=True):
        for budget, colour in zip(budgets, colours, strict=True):
            chosen = m.tokens == budget
            if chosen.any():
                axis.scatter(m.ratio[chosen], m.loss(law.loss)[chosen], color=colour, s=18)
            axis.plot(grid, law.best.predict(grid, budget), color=colour, label=f"D={budget:.3g}")
        axis.set_xlabel("domain ratio r")
        axis.set_ylabel(f"{law.loss.replace('_', ' ')}")
        axis.set_title(f"{law.loss}: {law.best.form} (RMSE {law.best.rmse:.4f})", fontsize=10)
        axis.grid(alpha=0.3)
    general_axis = axes[0]
    general_axis.axhline(
        c.baseline_loss + c.tolerance_nats,
        color="grey",
        linestyle="--",
        label=f"baseline + tolerance at D={c.target_tokens:.3g}",
    )
    if c.ratio is not None:
        general_axis.axvline(c.ratio, color="red", linestyle=":", label=f"CMR {c.ratio:.3f}")
    general_axis.legend(fontsize=8)
    figure.suptitle(f"textmill mix fit: {Path(m.source).name}", fontsize=11)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
