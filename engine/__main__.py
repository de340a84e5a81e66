from tpsqbo_engine.entry import run

run()
