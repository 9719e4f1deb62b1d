"""`python -m agent` is the `voxagent` command."""

from agent.cli import main

raise SystemExit(main())
