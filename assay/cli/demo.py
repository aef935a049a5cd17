"""`assay demo`: the whole journey on the bundled penguins table, in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from sklearn.model_selection import train_test_split

from assay import datasets
from assay.cli.app import command
from assay.cli.predict import write_table
from assay.cli.render import console, leaderboard_table, metrics_table
from assay.predictor import Predictor


@command("demo")
def demo(
    out: Path = typer.Option(Path("assay-demo"), "--out", "-o", help="folder for everything the demo writes"),
    budget: float = typer.Option(20.0, "--budget", "-b", help="seconds for the fit"),
    seed: int = typer.Option(0, "--seed"),
):
    """Fit the bundled penguins data, save the model, predict and score held-out rows."""
    frame = datasets.load("penguins")
    train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=frame["species"])
    out.mkdir(parents=True, exist_ok=True)
    train.to_csv(out / "train.csv", index=False)
    test.to_csv(out / "test.csv", index=False)
    console.print(f"penguins: {len(train)} training rows, {len(test)} held-out rows; target [bold]species[/]")

    predictor = Predictor("species", budget, seed=seed).fit(out / "train.csv")
    console.print(leaderboard_table(predictor.leaderboard()))
    model_dir = predictor.save(out / "model")
    predictions = predictor.predict(out / "test.csv").to_frame("predicted_species")
    predictions.insert(0, "species", test["species"].to_numpy())
    write_table(predictions, out / "predictions.csv")
    console.print(metrics_table(predictor.evaluate(out / "test.csv"), "held-out rows (never seen by the search)"))
    console.print(
        "written:\n"
        f"  data         {(out / 'train.csv').resolve()} and {(out / 'test.csv').resolve()}\n"
        f"  model        {model_dir}\n"
        f"  predictions  {(out / 'predictions.csv').resolve()}\n"
        f"next: assay predict {model_dir} NEW.csv -o preds.csv"
    )
