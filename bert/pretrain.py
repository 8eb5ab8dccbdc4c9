"""`python -m bert.pretrain`: pre-training with MLM + NSP (the code is in bert/pretraining/; see its cli.py)."""

from bert.pretraining.cli import main

if __name__ == "__main__":
    main()
