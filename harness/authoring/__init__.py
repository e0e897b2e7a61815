"""A host's competitions without a package: `harness create` from a folder of files
(:mod:`.create`), and moving competitions to and from other platforms' formats: Kaggle
community competitions (:mod:`.kaggle`), Hugging Face ``competitions`` (:mod:`.hf`), Codabench
v2 bundles (:mod:`.codabench`) and, import only, mle-bench competition folders
(:mod:`.mlebench`). Every import goes through :func:`.create.create`, so an imported competition
is checked exactly as a created one, and no import runs code from the bundle.
"""
