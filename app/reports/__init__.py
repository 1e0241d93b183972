"""The monthly 调度通报: the office's report of a month (app.reports.monthly), over the staff API and in Excel."""
