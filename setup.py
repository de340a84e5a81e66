"""Maps engine/ onto the import package tpsqbo_engine, and ships rules/, schemas/ and
templates/ inside the wheel as tpsqbo_engine/_data.

They live at the top of the repository so that firms and editors find them; an installed
engine finds them in the package (see engine/resources.py). Everything else is in
pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("rules", "schemas", "templates")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).parent
        target = Path(self.build_lib) / "tpsqbo_engine" / "_data"
        for folder in DATA_FOLDERS:
            shutil.copytree(root / folder, target / folder, dirs_exist_ok=True)


def engine_packages() -> list[str]:
    return ["tpsqbo_engine", *(f"tpsqbo_engine.{name}" for name in find_packages("engine"))]


setup(packages=engine_packages(), cmdclass={"build_py": BuildPyWithData})
