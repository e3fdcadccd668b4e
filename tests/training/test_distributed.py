"""Reading the cluster from the environment; one-process behaviour."""

import pytest

from jaxprune.training import distributed

FULL = {'JAX_COORDINATOR_ADDRESS': '10.0.0.1:1234', 'JAX_NUM_PROCESSES': '4',
        'JAX_PROCESS_ID': '3'}


def test_an_explicit_cluster():
  assert distributed.explicit_cluster(FULL) == {
      'coordinator_address': '10.0.0.1:1234', 'num_processes': 4,
      'process_id': 3}
  assert distributed.explicit_cluster({}) is None


@pytest.mark.parametrize('env, match', [
    ({'JAX_COORDINATOR_ADDRESS': '10.0.0.1:1234'},
     'half-specified cluster: JAX_NUM_PROCESSES, JAX_PROCESS_ID unset'),
    ({**FULL, 'JAX_PROCESS_ID': ''}, 'JAX_PROCESS_ID unset'),
    ({**FULL, 'JAX_COORDINATOR_ADDRESS': '10.0.0.1'}, 'not host:port'),
    ({**FULL, 'JAX_NUM_PROCESSES': 'two'}, 'must be integers'),
    ({**FULL, 'JAX_PROCESS_ID': '4'}, r'JAX_PROCESS_ID=4 is not in \[0, '),
])
def test_a_bad_cluster_is_one_clear_error(env, match):
  with pytest.raises(ValueError, match=match):
    distributed.explicit_cluster(env)
  with pytest.raises(ValueError, match=match):
    distributed.initialize('auto', env)


def test_detected_clusters():
  assert distributed.detected_cluster(
      {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '2'}) == 'SLURM'
  assert distributed.detected_cluster(
      {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '1'}) is None
  assert distributed.detected_cluster(
      {'TPU_WORKER_HOSTNAMES': 'a,b'}) == 'a multi-host TPU slice'
  assert distributed.detected_cluster({'TPU_WORKER_HOSTNAMES': 'a'}) is None
  assert distributed.detected_cluster({'OMPI_COMM_WORLD_SIZE': '8'})


def test_one_process():
  assert distributed.initialize('auto', {}) == 1
  assert distributed.initialize('off', FULL) == 1  # off ignores the cluster
  with pytest.raises(ValueError, match='config.distributed must be one of'):
    distributed.initialize('on', {})
  assert distributed.is_writer()
  distributed.check_processes_agree({'a': 1}, '/nonexistent/run')  # no-op
  distributed.barrier('nothing to wait for')
  assert distributed.config_hash({'a': 1}) != distributed.config_hash({'a': 2})
