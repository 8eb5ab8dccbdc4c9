"""DistilBERT and knowledge distillation, built on the `bert` package."""
