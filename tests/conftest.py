from hypothesis import Phase, settings

pytest_plugins = ["tests.servers"]

# scripts/mutation.sh --tool loads this profile (--hypothesis-profile=mutation): the first failing
# example is enough to kill a mutant, and shrinking it would cost more than the rest of the run.
settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])
