"""Convert between our model folders and the reference checkpoint format.

    python -m model.convert from-reference REFERENCE_DIR OUT_DIR   # config.json + pytorch_model.bin (+ vocab.txt)
    python -m model.convert to-reference MODEL_DIR OUT_DIR
"""
import argparse

from model.checkpoint import convert_from_reference, convert_to_reference


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("direction", choices=("from-reference", "to-reference"))
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args(argv)
    (convert_from_reference if args.direction == "from-reference" else convert_to_reference)(args.source, args.target)
    print(args.target)


if __name__ == "__main__":
    main()
