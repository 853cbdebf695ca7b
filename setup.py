"""Packaging: setup.cfg holds the metadata; this adds the zoo's data to built wheels.

`zoo_configs/*.yaml` and `saved_models/index.json` stay at the top of the
repository (their source of truth); `build_py` copies them into
`rnnzoo/_packaged/` of the build, so a regular install (a wheel) lists the zoo
and downloads its artifacts. An editable install skips the copy: rnnzoo reads
the checkout itself (`rnnzoo.artifacts.configs_dir`).
"""

import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class build_py_with_zoo_data(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "rnnzoo", "_packaged")
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(os.path.join(target, "zoo_configs"))
        for path in sorted(glob.glob(os.path.join(HERE, "zoo_configs", "*.yaml"))):
            shutil.copyfile(path, os.path.join(target, "zoo_configs", os.path.basename(path)))
        index = os.path.join(HERE, "saved_models", "index.json")
        if os.path.exists(index):
            shutil.copyfile(index, os.path.join(target, "index.json"))


setup(cmdclass={"build_py": build_py_with_zoo_data})
