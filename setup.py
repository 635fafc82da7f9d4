"""Worker packaging for distributed runners (`--setup_file=./setup.py`): ships transforms/ and pipeline/."""
import setuptools

setuptools.setup(
    name="chinesebert-corpus",
    version="0.1.0",
    packages=["transforms", "pipeline"],
    package_data={"transforms": ["data/*.tsv"]},
    python_requires=">=3.11",
)
