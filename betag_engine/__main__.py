from betag_engine.cli import main

raise SystemExit(main())
