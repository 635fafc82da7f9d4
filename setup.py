"""Worker packaging for distributed runners (`--setup_file=./setup.py`): ships transforms/, pipeline/ and fonts/ (the fonts themselves
come from Debian packages: see docker/Dockerfile)."""
import setuptools

setuptools.setup(
    name="chinesebert-corpus",
    version="0.1.0",
    packages=["transforms", "pipeline", "fonts"],
    package_data={"transforms": ["*.c", "data/*.tsv", "data/*.ftz", "data/*.npz", "data/*.txt", "data/ltp_cws/*"],
                  "fonts": ["fonts.json"]},
    python_requires=">=3.11",
)
