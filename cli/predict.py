"""``histnet predict``: classify image files with a trained model."""

from __future__ import annotations

import json

import click


@click.command("predict", short_help="Classify images with a trained model (a run folder or model.npz).")
@click.argument("model", type=click.Path(exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--top", type=click.IntRange(1, 1000), default=5, show_default=True, help="Classes to print per image.")
@click.option("--device", type=click.Choice(["cpu", "gpu", "auto"]), default="cpu", show_default=True,
              help="cpu, gpu or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of {image, top: [{class, score}]}.")
def predict_command(model, images, top, device, as_json):
    """Print the top classes, by name, with scores, of every image in IMAGES (files or folders)
    under MODEL: a run folder that holds model.npz (histnet run keeps one) or the file itself.

    Images are read as the training data was: the shorter side resized and the centre square
    cropped to the training size, grey or colour as trained. Scores are the method's own:
    probabilities for the nets, SVM decision values for the hand-crafted pipelines.
    """
    from histnet.backend import get_backend
    from histnet.predict import load_model, predict_files

    method = load_model(model, backend=get_backend(device))
    results = predict_files(method, images, top=top)
    if as_json:
        click.echo(json.dumps(results))
        return
    for r in results:
        click.echo(f"{r['image']}: " + ", ".join(f"{t['class']} {t['score']:.3g}" for t in r["top"]))
