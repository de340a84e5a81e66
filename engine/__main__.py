from tpsqbo_engine.cli import run

run()
