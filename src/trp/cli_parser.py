"""The argparse parser of every `trp` command line (subcommands and renderers): a usage error is
one line, `<prog>: error: <message>; see `<prog> --help``, exit status 2, without the usage block."""
import argparse


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")
