"""realname: real-name verification and credit onboarding for Chinese consumer credit.

The package is organised by concept (see docs/ and DESIGN §11): ``identity`` holds pure
parsers for the identifiers people submit, ``privacy`` the vault that encrypts them,
``store`` the database, ``api`` the HTTP surface and ``cli`` the command line.
"""

__version__ = "0.1.0"
