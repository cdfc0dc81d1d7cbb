# The analysts' image (singleuser.image in values.yaml; the dashboards Deployment runs it too):
# stationlab with JupyterLab and its widget extensions, rendering offline.
#   docker build -f hub/kubernetes/analyst.Dockerfile -t registry.example.org/stationlab-analyst:0.1.0 .
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 1000 jovyan
COPY . /opt/stationlab
RUN pip install --no-cache-dir -c /opt/stationlab/constraints.txt /opt/stationlab
# stationlab.kernel: Bokeh, Panel and HoloViews render with their JavaScript inline, nothing
# from a CDN; the build fails if these paths are not where stationlab put them.
ENV JUPYTER_PATH=/usr/local/lib/python3.11/site-packages/stationlab/kernel/share \
    JUPYTER_CONFIG_PATH=/usr/local/lib/python3.11/site-packages/stationlab/kernel/etc
RUN python -c "import os; from stationlab import kernel; wanted = kernel.environment({}); \
assert all(os.environ[k] == v for k, v in wanted.items()), wanted"
USER jovyan
WORKDIR /home/jovyan
