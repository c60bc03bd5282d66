"""``python -m training {train,evaluate,all,heads,stress,card,export,sitecal,compare}``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .config import config_for
from .registry import MODELS

DEFAULT_DATA = Path(os.environ.get("PNEUMO_DATA_DIR", "../shared/data/chest_xray"))

log = logging.getLogger("training")


def configure() -> None:
    """The first call of ``python -m training``: nothing is set when the package is imported.
    The package's log lines go where ``print`` put them before, timestamped: progress to
    stdout, warnings and errors to stderr. Calling it again replaces its handlers."""
    # oneDNN kernels are off by default on AMD processors; on this project's 2-core EPYC
    # machines they cut a training step by about a quarter. Set before TensorFlow loads.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for handler in [h for h in log.handlers if getattr(h, "training_console", False)]:
        log.removeHandler(handler)
    formatter = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    progress, problems = logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)
    progress.addFilter(lambda record: record.levelno < logging.WARNING)
    problems.setLevel(logging.WARNING)
    for handler in (progress, problems):
        handler.training_console = True
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--limit-per-class", type=int, help="tiny subset, for smoke runs")
    parser.add_argument("--working-size", type=int, help="pixels the network computes at")
    parser.add_argument("--mixup", type=float, help="mixup Beta(alpha, alpha); 0 disables")
    parser.add_argument("--frame-lungs", action=argparse.BooleanOptionalAction,
                        help="crop each film to its lung fields inside the model")
    parser.add_argument("--frame-jitter", type=float,
                        help="training only: move each lung-box edge by up to this fraction")
    parser.add_argument("--equalize-crop", action=argparse.BooleanOptionalAction,
                        help="histogram-equalise the lung crop inside the model")
    parser.add_argument(
        "--split",
        choices=("patient", "patient_earliest", "patient_earliest_series", "image"),
        help="how validation is carved out of train (default: the model's preset)",
    )


def _overrides(args) -> dict:
    return {
        "data_dir": args.data_dir,
        "out_dir": args.out,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "limit_per_class": args.limit_per_class,
        "split": args.split,
        "working_size": args.working_size,
        "mixup_alpha": args.mixup,
        "frame_lungs": args.frame_lungs,
        "frame_jitter": args.frame_jitter,
        "equalize_crop": args.equalize_crop,
    }


def main(argv: list[str] | None = None) -> int:
    configure()
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", help="train one model and write its card")
    train_parser.add_argument("--model", required=True, choices=sorted(MODELS))
    train_parser.add_argument("--weights", type=Path, help="ImageNet weights (transfer models)")
    _add_common(train_parser)

    all_parser = commands.add_parser("all", help="train every model, then the comparison table")
    all_parser.add_argument("--models", nargs="+", default=sorted(MODELS))
    all_parser.add_argument("--weights-dir", type=Path, help="holds <model>.h5 for transfer")
    _add_common(all_parser)

    eval_parser = commands.add_parser("evaluate", help="score a saved model on a split")
    eval_parser.add_argument("--model-file", type=Path, required=True)
    eval_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    eval_parser.add_argument("--split", default="test")
    eval_parser.add_argument("--threshold", type=float, help="default: the card's")

    heads_parser = commands.add_parser(
        "heads", help="fit the not-an-X-ray and bacteria/virus heads on a trained model"
    )
    heads_parser.add_argument("--model", default="cnn_deep_aug")
    heads_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    heads_parser.add_argument("--out", type=Path, default=Path("models"))
    heads_parser.add_argument("--limit-per-class", type=int)

    stress_parser = commands.add_parser(
        "stress", help="validation films re-rendered as other machines would take them"
    )
    stress_parser.add_argument("--model-file", type=Path, required=True)
    stress_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    stress_parser.add_argument("--limit-per-class", type=int)
    stress_parser.add_argument("--json", type=Path, help="also write the report here")
    stress_parser.add_argument("--card", action="store_true",
                               help="record the report in the model's card (the app shows it)")

    card_parser = commands.add_parser(
        "card", help="rebuild a model's card to the current schema, without retraining "
        "(re-scores validation and test; keeps the training section and threshold)")
    card_parser.add_argument("--model-file", type=Path, required=True)
    card_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    card_parser.add_argument("--changes", help="the changelog text for the model's version")
    card_parser.add_argument("--limit-per-class", type=int, help="tiny subset, for tests")

    export_parser = commands.add_parser(
        "export", help="write models/<name>.onnx (the graph the app runs) and record it in "
        "the card, after checking it against Keras")
    export_parser.add_argument("--model-file", type=Path,
                               default=Path("models") / "cnn_deep_aug.keras")
    export_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                               help="real films for the parity check (used when present)")

    sitecal_parser = commands.add_parser(
        "sitecal", help="the test set as a new clinic: site calibration simulated by patient"
    )
    sitecal_parser.add_argument("--model-file", type=Path,
                                default=Path("models/cnn_deep_aug.keras"))
    sitecal_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    sitecal_parser.add_argument("--scores", type=Path,
                                help="CSV of path,probability[,label] instead of the model")
    sitecal_parser.add_argument("--save-scores", type=Path, help="write the model's scores here")
    sitecal_parser.add_argument("--splits", type=int, default=200)
    sitecal_parser.add_argument("--seed", type=int, default=0)
    sitecal_parser.add_argument("--target-sensitivity", type=float, default=0.98)
    sitecal_parser.add_argument("--json", type=Path, help="also write the report here")
    sitecal_parser.add_argument("--card", action="store_true",
                                help="record the report in the model's card")
    checks_parser = commands.add_parser(
        "checks", help="validation checks and label-free site checks on the test images"
    )
    checks_parser.add_argument("--model-file", type=Path, required=True)
    checks_parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    checks_parser.add_argument("--json", type=Path, help="also write the report here")
    checks_parser.add_argument("--no-adabn", action="store_true", help="skip the AdaBN shift")

    compare_parser = commands.add_parser("compare", help="rebuild the comparison table")
    compare_parser.add_argument("--out", type=Path, default=Path("models"))
    compare_parser.add_argument("--note", action="append", default=[],
                                help="a line for the table's notes (repeatable)")

    args = parser.parse_args(argv)
    if args.command == "train":
        from .train import train

        try:
            train(config_for(args.model, weights_file=args.weights, **_overrides(args)))
        except FileNotFoundError as error:
            log.error("error: %s", error)
            return 2
        return 0
    if args.command == "all":
        return _train_all(args)
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "heads":
        from .heads import fit_heads

        config = config_for(args.model, data_dir=args.data_dir, out_dir=args.out,
                            limit_per_class=args.limit_per_class)
        fit_heads(args.out, args.model, config)
        return 0
    if args.command == "stress":
        from .io import atomic_write_json
        from .stress import format_report, run_stress

        report = run_stress(args.model_file, args.data_dir, args.limit_per_class)
        print(format_report(report))  # the command's output, not a log line
        if args.json:
            atomic_write_json(args.json, report)
        if args.card:
            from .card import card_path_for, update_section

            update_section(card_path_for(args.model_file), "stress",
                           {key: report[key] for key in ("validation_images", "shifts")})
        return 0
    if args.command == "card":
        return _rebuild_card(args)
    if args.command == "export":
        return _export(args)
    if args.command == "sitecal":
        return _sitecal(args)
    if args.command == "checks":
        from .io import atomic_write_json
        from .site_checks import format_checks, run_checks

        report = run_checks(args.model_file, args.data_dir, adabn=not args.no_adabn)
        print(format_checks(report))  # the command's output, not a log line
        if args.json:
            atomic_write_json(args.json, report)
        return 0
    from .compare import write_comparison

    write_comparison(args.out, args.note)
    return 0


def _sitecal(args) -> int:
    from . import sitecal
    from .card import card_path_for, read_card, update_section
    from .io import atomic_write_json

    card_path = card_path_for(args.model_file)
    card = read_card(card_path)
    if args.scores is not None:
        paths, labels, scores = sitecal.read_scores(args.scores)
        source = f"scores file {args.scores.name}"
    else:
        paths, labels, scores = sitecal.score_test_set(args.model_file, card, args.data_dir)
        source = f"{args.model_file.name} (Keras), test split of {args.data_dir}"
        if args.save_scores:
            sitecal.write_scores(args.save_scores, paths, labels, scores)
    patients = [sitecal.site_patient(Path(path).name) for path in paths]
    factory = float(card["threshold"]["value"])
    rows = sitecal.simulate(scores, labels, patients, factory, splits=args.splits,
                            target=args.target_sensitivity, seed=args.seed)
    print(sitecal.format_report(rows))
    section = sitecal.card_section(
        rows, films=len(paths), factory=factory, splits=args.splits,
        target=args.target_sensitivity, seed=args.seed, source=source,
    )
    if args.json:
        atomic_write_json(args.json, section)
    if args.card:
        update_section(card_path, "site_calibration", section)
    return 0


def _train_all(args) -> int:
    from .compare import write_comparison
    from .train import train

    notes = []
    for name in args.models:
        weights = None
        if MODELS[name].needs_weights:
            weights = args.weights_dir / f"{name}.h5" if args.weights_dir else None
            if weights is None or not weights.is_file():
                notes.append(f"{name}: not trained, no ImageNet weights file given (--weights-dir)")
                log.warning(notes[-1])
                continue
        train(config_for(name, weights_file=weights, **_overrides(args)))
    write_comparison(args.out, notes)
    return 0


def _export(args) -> int:
    from .card import CardError
    from .export import export_model

    try:
        section = export_model(args.model_file, args.data_dir)
    except (CardError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parity = section["parity"]
    print(f"wrote {args.model_file.with_suffix('.onnx')} (opset {section['opset']}); "
          f"onnxruntime vs Keras on {parity['films']} films: |dP| "
          f"{parity['max_abs_probability']:.1e}, features {parity['max_relative_features']:.1e} "
          f"and maps {parity['max_relative_maps']:.1e} relative")
    return 0


def _rebuild_card(args) -> int:
    """Rebuild the card, then export the graph again (the app needs both to match)."""
    from .card import CardError, rebuild_card

    try:
        moved = rebuild_card(args.model_file, args.data_dir, changes=args.changes,
                             limit_per_class=args.limit_per_class)
    except (CardError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if _export(args):
        return 2
    for key, (before, after) in moved.items():
        print(f"changed: {key} {before} -> {after}", file=sys.stderr)
    print(f"rebuilt {args.model_file.with_suffix('').name}.card.json: "
          + (f"{len(moved)} metrics moved" if moved else "every metric as the card had it"))
    return 0


def _evaluate(args) -> int:
    import numpy as np

    from . import data, evaluate
    from .models import load_model

    card_path = args.model_file.with_name(args.model_file.stem + ".card.json")
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
    threshold = args.threshold if args.threshold is not None else card["threshold"]["value"]
    model = load_model(args.model_file)
    channels = int(model.input_shape[-1])
    records = data.list_split(args.data_dir / args.split)
    config = config_for(
        card["name"] if card else "cnn_deep_aug",
        channels=channels,
        equalize=bool(card and card["input"].get("equalize") == "histogram"),
    )
    dataset = data.build_dataset(records, config, training=False)
    probs = np.asarray(model.predict(dataset, verbose=0)).reshape(-1)
    result = evaluate.metrics_at(
        [r.label for r in records], probs, threshold, [r.subtype for r in records]
    )
    print(json.dumps(result, indent=2))  # the command's output (JSON), not a log line
    return 0


if __name__ == "__main__":
    sys.exit(main())
