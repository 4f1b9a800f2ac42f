"""Pure figure functions: data in, plotly figure out."""
