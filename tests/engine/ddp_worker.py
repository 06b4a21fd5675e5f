"""One rank of the 2-process CPU runs of test_distributed.py, started by `torch.distributed.run`:

* `ddp_worker.py step OUT`: one engine train_step on this rank's half of test_train_step.py's batch of 16
  (LoRA); writes OUT/step_rank<r>.pt, the loss and the change of every trainable weight;
* `ddp_worker.py train OUT -- ARGS`: the `train` command line ARGS; writes every AdaMix route this rank
  drew to OUT/routes_rank<r>.json and its trainable weights at the end of training to OUT/weights_rank<r>.pt.
"""

import json
import sys
from pathlib import Path

import torch

from adamixbench.engine.distributed import launched, start


def step(out: Path) -> None:
    from tests.engine.test_train_step import stepped_weights, two_halves

    processes = launched()
    start(processes, torch.device("cpu"))
    loss, updates = stepped_weights([two_halves()[processes.rank]], processes)
    torch.save({"loss": loss, "updates": updates}, out / f"step_rank{processes.rank}.pt")
    processes.finish()


def train(out: Path, argv: list[str]) -> int:
    from adamix import routing
    from adamixbench.engine import trainer
    from adamixbench.engine.cli import main

    routes = []
    draw = routing.Router.draw

    def recording_draw(self, num_experts, shape):
        drawn = draw(self, num_experts, shape)
        routes.append(drawn.tolist())
        return drawn

    routing.Router.draw = recording_draw
    rank = launched().rank  # read before main: it leaves the process group at its end
    select = trainer.select  # called once training is done, on every rank

    def saving_select(run, state):
        trained = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}
        torch.save(trained, out / f"weights_rank{rank}.pt")
        return select(run, state)

    trainer.select = saving_select
    code = main(argv)
    (out / f"routes_rank{rank}.json").write_text(json.dumps(routes))
    return code


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "step":
        step(out)
    else:
        sys.exit(train(out, sys.argv[sys.argv.index("--") + 1 :]))
